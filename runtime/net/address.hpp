// runtime/net/address.hpp — "host:port" strings to socket addresses and back.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>
#include <vector>

namespace goro::rt::net {

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family() const { return addr.ss_family; }
};

// Splits "host:port", "[v6]:port", ":port". Throws std::system_error (errc::invalid_argument)
// naming the address.
void split_host_port(std::string_view address, std::string& host, std::string& port);

// Where to listen: numeric hosts directly, names resolved; an empty host means every interface
// (IPv6 dual-stack where the machine has IPv6, else IPv4).
std::vector<Endpoint> resolve_listen(std::string_view address);
// Where to connect, in the order to try (getaddrinfo's order). Names are resolved in a
// goro::blocking() call; an empty host means this machine (loopback), as in Go.
std::vector<Endpoint> resolve_dial(std::string_view address);

std::string to_string(const sockaddr* sa);

}  // namespace goro::rt::net
