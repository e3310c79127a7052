// runtime/net/address.cpp
#include "net/address.hpp"

#include <goro/runtime.hpp>

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstdio>
#include <cstring>
#include <system_error>

namespace goro::rt::net {
namespace {

// Net errors are std::system_error (API.md), a malformed address included.
[[noreturn]] void bad_address(std::string_view address, const char* why,
                              std::errc code = std::errc::invalid_argument) {
  throw std::system_error(std::make_error_code(code), "goro: bad address \"" + std::string(address) + "\": " + why);
}

// getaddrinfo's errors, with its own messages (a system_error's what() ends with the code's
// message: errc::address_not_available's "Cannot assign requested address" misled there). Each
// is equivalent to errc::address_not_available, so callers test for that as before.
struct ResolveCategory : std::error_category {
  const char* name() const noexcept override { return "getaddrinfo"; }
  std::string message(int rc) const override { return ::gai_strerror(rc); }
  std::error_condition default_error_condition(int) const noexcept override {
    return std::make_error_condition(std::errc::address_not_available);
  }
};
const ResolveCategory& resolve_category = *new ResolveCategory;  // never destroyed (std::exit)

std::uint16_t parse_port(std::string_view address, const std::string& port) {
  if (port.empty() || port.size() > 5) bad_address(address, "expected a port number after ':'");
  unsigned long v = 0;
  for (char c : port) {
    if (c < '0' || c > '9') bad_address(address, "the port must be a number (service names are not supported)");
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 65535) bad_address(address, "the port must be at most 65535");
  return static_cast<std::uint16_t>(v);
}

// A numeric IPv4 or IPv6 host; false if the host is a name.
bool numeric(const std::string& host, std::uint16_t port, Endpoint& out) {
  auto* in4 = reinterpret_cast<sockaddr_in*>(&out.addr);
  if (::inet_pton(AF_INET, host.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    out.len = sizeof(sockaddr_in);
    return true;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  if (::inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    out.len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

std::vector<Endpoint> lookup(std::string_view address, const std::string& host, std::uint16_t port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG | (passive ? AI_PASSIVE : 0);
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  // DNS may take seconds: off the P, like a syscall.
  const int rc = goro::blocking([&] { return ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); });
  if (rc != 0)
    throw std::system_error(rc, resolve_category, "goro: cannot resolve \"" + std::string(address) + "\"");
  std::vector<Endpoint> out;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    Endpoint e;
    std::memcpy(&e.addr, ai->ai_addr, ai->ai_addrlen);
    e.len = ai->ai_addrlen;
    out.push_back(e);
  }
  ::freeaddrinfo(res);
  if (out.empty()) bad_address(address, "no address found", std::errc::address_not_available);
  return out;
}

}  // namespace

void split_host_port(std::string_view address, std::string& host, std::string& port) {
  // (Go's net.SplitHostPort, with messages that say what to write instead.)
  if (const std::size_t nul = address.find('\0'); nul != std::string_view::npos)
    bad_address(address.substr(0, nul), "a NUL byte follows (the address is cut short there)");
  std::string_view h, p;
  if (!address.empty() && address.front() == '[') {
    const std::size_t end = address.find(']');
    if (end == std::string_view::npos) bad_address(address, "missing ']' after the IPv6 host");
    if (end + 1 == address.size()) bad_address(address, "missing port (expected [host]:port)");
    if (address[end + 1] != ':') bad_address(address, "expected ':' and a port after ']'");
    h = address.substr(1, end - 1);
    p = address.substr(end + 2);
  } else {
    const std::size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) bad_address(address, "missing port (expected host:port)");
    h = address.substr(0, colon);
    p = address.substr(colon + 1);
    if (h.find(':') != std::string_view::npos)
      bad_address(address, "an IPv6 host must be written in brackets, like [::1]:80");
  }
  if (h.find_first_of("[]") != std::string_view::npos) bad_address(address, "unexpected '[' or ']' in the host");
  host = std::string(h);
  port = std::string(p);
}

std::vector<Endpoint> resolve_listen(std::string_view address) {
  std::string host, port_text;
  split_host_port(address, host, port_text);
  const std::uint16_t port = parse_port(address, port_text);
  Endpoint e;
  if (host.empty()) {  // every interface: the IPv6 wildcard (dual-stack), then IPv4's
    Endpoint any6, any4;
    numeric("::", port, any6);
    numeric("0.0.0.0", port, any4);
    return {any6, any4};
  }
  if (numeric(host, port, e)) return {e};
  return lookup(address, host, port, true);
}

std::vector<Endpoint> resolve_dial(std::string_view address) {
  std::string host, port_text;
  split_host_port(address, host, port_text);
  const std::uint16_t port = parse_port(address, port_text);
  Endpoint e;
  if (host.empty()) {  // Go: dialing ":80" means the local system
    Endpoint lo4, lo6;
    numeric("127.0.0.1", port, lo4);
    numeric("::1", port, lo6);
    return {lo4, lo6};
  }
  if (numeric(host, port, e)) return {e};
  return lookup(address, host, port, false);
}

std::string to_string(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = "";
  char out[INET6_ADDRSTRLEN + IF_NAMESIZE + 16];
  if (sa->sa_family == AF_INET) {
    auto* in4 = reinterpret_cast<const sockaddr_in*>(sa);
    ::inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
    std::snprintf(out, sizeof out, "%s:%u", host, unsigned{ntohs(in4->sin_port)});
    return out;
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    // An IPv4 peer of a dual-stack socket ("::ffff:127.0.0.1"): dotted, as Go's net.IP prints it.
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      ::inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host, sizeof host);
      std::snprintf(out, sizeof out, "%s:%u", host, unsigned{ntohs(in6->sin6_port)});
      return out;
    }
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    // A link-local address is usable only with its zone ("fe80::1%eth0"): keep it, as Go does,
    // so that the address can be dialled. The interface's name, else its number.
    std::string zone;
    if (in6->sin6_scope_id != 0) {
      char name[IF_NAMESIZE];
      zone = "%";
      zone += ::if_indextoname(in6->sin6_scope_id, name) ? name : std::to_string(in6->sin6_scope_id);
    }
    std::snprintf(out, sizeof out, "[%s%s]:%u", host, zone.c_str(), unsigned{ntohs(in6->sin6_port)});
    return out;
  }
  return "?";
}

}  // namespace goro::rt::net
