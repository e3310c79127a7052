// runtime/net/net.cpp — goro::net: listen, accept, dial, read, write.
//
// Every call tries its syscall first and waits on the poller only on EAGAIN (socket.hpp), as
// Go's internal/poll does. Sockets are non-blocking and close-on-exec from birth; writes use
// MSG_NOSIGNAL so a peer that went away is an EPIPE error, never a SIGPIPE.
#include <goro/net.hpp>
#include <goro/select.hpp>

#include "net/address.hpp"
#include "net/socket.hpp"
#include "os/errno.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <memory>
#include <mutex>

namespace goro::net {
namespace {

using detail::Socket;

int listen_backlog() {
  static const int backlog = [] {  // as Go: the system's somaxconn
    int n = SOMAXCONN;
    std::ifstream f("/proc/sys/net/core/somaxconn");
    if (f >> n && n > 0) return n;
    return static_cast<int>(SOMAXCONN);
  }();
  return backlog;
}

std::string sock_name(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  const int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                      : ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return rc == 0 ? rt::net::to_string(reinterpret_cast<sockaddr*>(&ss)) : std::string();
}

// For `op` ("dial", "listen") on `address`: errors name them, and say what to do about a
// descriptor limit, as accept's do.
std::shared_ptr<Socket> open_socket(int family, const char* op, std::string_view address) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const int err = rt::os::errno_now();
    std::string what = std::string("goro: ") + op + " " + std::string(address);
    if (err == EMFILE || err == ENFILE)
      what += ": out of file descriptors (RLIMIT_NOFILE) for a new socket; close some connections "
              "or raise the limit";
    else
      what += ": creating a socket";
    throw std::system_error(err, std::system_category(), what);
  }
  return std::make_shared<Socket>(fd);
}

const std::shared_ptr<Socket>& checked(const std::shared_ptr<Socket>& s, const char* what) {
  if (!s) throw std::logic_error(std::string("goro: ") + what + " on an unconnected goro::net handle");
  return s;
}

// Go's defaults for a TCP connection, dialed or accepted: no Nagle delay, and keep-alive probes
// every kKeepAliveSeconds once idle that long (net.Dialer.KeepAlive, ListenConfig.KeepAlive), so
// a peer that vanished without a FIN or RST (a crashed host, a dropped NAT entry) ends a blocked
// read with an error instead of holding its goroutine and descriptor for ever.
constexpr int kKeepAliveSeconds = 15;  // Go's defaultTCPKeepAliveIdle and ...Interval

void set_tcp_options(int fd) {
  const int one = 1, period = kKeepAliveSeconds;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &period, sizeof period);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &period, sizeof period);
}

}  // namespace

// ---- Conn ----

std::size_t Conn::read(std::span<std::byte> buf) const {
  Socket::Op op(checked(s_, "read"));
  Socket& s = op.socket();
  const auto turn = op.take_turn(s.read_turn, "read");
  s.check(false, "read");
  if (buf.empty()) return 0;
  // A read that returns less than it asked for has emptied the socket, and with edge-triggered
  // epoll anything arriving after that read started is reported as an event. So after a short
  // read we wait for an event before reading again, instead of making a read that would most
  // likely fail with EAGAIN and then wait anyway (nginx's rule for epoll). Each read takes the
  // pending event first, so one that comes in during the read is not lost. In request/response
  // traffic this saves a syscall per message. A read also stops short at an end of stream, an
  // error or an urgent mark that came with the data; the events reporting those switch the rule
  // off for the socket (PollDesc::short_reads_unreliable).
  bool wait_first = s.read_drained && !s.pd->short_reads_unreliable.load(std::memory_order_relaxed);
  for (;;) {
    if (!rt::poller.take_event(s.pd, false) && wait_first) op.wait(false, "read");
    const ssize_t n = ::read(s.fd, buf.data(), buf.size());
    if (n >= 0) {
      s.read_drained = n > 0 && static_cast<std::size_t>(n) < buf.size();
      return static_cast<std::size_t>(n);
    }
    const int err = rt::os::errno_now();
    s.read_drained = false;
    if (err != EINTR && err != EAGAIN) s.throw_errno(err, "read");
    wait_first = err == EAGAIN;  // unless an event came meanwhile
  }
}

std::size_t Conn::write(std::span<const std::byte> data) const {
  Socket::Op op(checked(s_, "write"));
  Socket& s = op.socket();
  const auto turn = op.take_turn(s.write_turn, "write");
  s.check(true, "write");
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(s.fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n >= 0) {
      done += static_cast<std::size_t>(n);  // a partial write: go on with the rest
      continue;
    }
    const int err = rt::os::errno_now();
    if (err == EINTR) continue;
    if (err != EAGAIN) s.throw_errno(err, "write");
    op.wait(true, "write");
  }
  return done;
}

void Conn::close() const {
  if (s_) s_->close();
}

void Conn::close_write() const {
  Socket::Op op(checked(s_, "close_write"));
  Socket& s = op.socket();
  // Not behind write_turn: a writer blocked on a peer that does not read would hold it for ever.
  // As Go's CloseWrite, the FIN goes out now and a write under way fails (EPIPE).
  if (::shutdown(s.fd, SHUT_WR) != 0) s.throw_errno(rt::os::errno_now(), "close_write");
}

namespace {
std::int64_t deadline_ns(time_point t) {
  if (t == time_point{}) return 0;
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return ns > 0 ? ns : -1;
}
void set_deadlines(const std::shared_ptr<Socket>& s, time_point t, bool read, bool write) {
  Socket::Op op(checked(s, "set_deadline"));
  rt::poller.set_deadline(op.socket().pd, deadline_ns(t), read, write);
}
}  // namespace

void Conn::set_deadline(time_point t) const { set_deadlines(s_, t, true, true); }
void Conn::set_read_deadline(time_point t) const { set_deadlines(s_, t, true, false); }
void Conn::set_write_deadline(time_point t) const { set_deadlines(s_, t, false, true); }
std::string Conn::local_address() const { return checked(s_, "local_address")->local; }
std::string Conn::remote_address() const { return checked(s_, "remote_address")->remote; }

// ---- Listener ----

Listener listen(std::string_view address) {
  int last_error = 0;
  for (const rt::net::Endpoint& e : rt::net::resolve_listen(address)) {
    std::shared_ptr<Socket> s;
    try {
      s = open_socket(e.family(), "listen", address);
    } catch (const std::system_error& err) {
      if (err.code() == std::errc::address_family_not_supported) continue;  // no IPv6 here
      throw;
    }
    const Socket::Op setup(s);  // (a plain thread's syscalls must not outlive the runtime: Op)
    const int one = 1, zero = 0;
    ::setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (e.family() == AF_INET6) ::setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (::bind(s->fd, reinterpret_cast<const sockaddr*>(&e.addr), e.len) != 0 ||
        ::listen(s->fd, listen_backlog()) != 0) {
      last_error = rt::os::errno_now();
      // Only an address this machine cannot have (IPv6 turned off) moves on to the next: a port
      // in use or a permission refused is the answer, as in Go. Moving on would have ":P", with
      // [::]:P taken by an IPv6-only socket, listen on IPv4 alone without a word.
      if (last_error == EADDRNOTAVAIL || last_error == EAFNOSUPPORT) continue;
      throw std::system_error(last_error, std::system_category(), "goro: listen " + std::string(address));
    }
    s->local = sock_name(s->fd, false);
    return Listener(std::move(s));
  }
  throw std::system_error(last_error ? last_error : EADDRNOTAVAIL, std::system_category(),
                          "goro: listen " + std::string(address));
}

Conn Listener::accept() const {
  Socket::Op op(checked(s_, "accept"));
  Socket& s = op.socket();
  const auto turn = op.take_turn(s.read_turn, "accept");
  s.check(false, "accept");
  for (;;) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    const int fd = ::accept4(s.fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      set_tcp_options(fd);
      auto conn = std::make_shared<Socket>(fd);
      conn->local = sock_name(fd, false);
      conn->remote = rt::net::to_string(reinterpret_cast<sockaddr*>(&peer));
      return Conn(std::move(conn));
    }
    switch (const int err = rt::os::errno_now()) {
      case EINTR:
      case ECONNABORTED:  // the client gave up before we got to it: take the next one
      // A network error already pending on the new connection (accept(2): "treat them like
      // EAGAIN by retrying"): that connection is lost, the listener is fine.
      case ENETDOWN:
      case EPROTO:
      case ENOPROTOOPT:
      case EHOSTDOWN:
      case ENONET:
      case EHOSTUNREACH:
      case EOPNOTSUPP:
      case ENETUNREACH:
        continue;
      case EAGAIN:
        op.wait(false, "accept");
        continue;
      case EMFILE:
      case ENFILE:
        throw std::system_error(err, std::system_category(),
                                "goro: accept on " + s.local +
                                    ": out of file descriptors (RLIMIT_NOFILE); the listener "
                                    "stays usable — close some connections or raise the limit, "
                                    "then accept again");
      default:
        s.throw_errno(err, "accept");
    }
  }
}

void Listener::close() const {
  if (s_) s_->close();
}

std::string Listener::address() const { return checked(s_, "address")->local; }

// ---- dial ----

namespace {

// Connects s to e; waits for the non-blocking connect to finish. Returns 0 or an errno.
int connect_to(const std::shared_ptr<Socket>& socket, const rt::net::Endpoint& e) {
  Socket::Op op(socket);
  Socket& s = op.socket();
  if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&e.addr), e.len) == 0) return 0;
  if (const int err = rt::os::errno_now(); err != EINPROGRESS && err != EINTR) return err;
  for (;;) {
    op.wait(true, "dial");  // throws on close or deadline
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 && err != EINPROGRESS && err != EALREADY && err != EINTR) return err;
    // No error is not yet success: a socket polls writable (with HUP) from its registration
    // until connect() starts, so the wake-up may be that stale event while the handshake is
    // still under way. Connected once it has a peer (as Go's connect checks); else wait again.
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    if (err == 0 && ::getpeername(s.fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0) return 0;
  }
}

// Interrupts a connect in progress once ctx is done: a goroutine sets the socket's write
// deadline in the past. Whether it may is decided once, by one CAS that it and stop() race for:
// once stop() has won, no cancel() can reach the connection dial returns (Go's dial waits for its
// watcher instead; this needs no wait, which a plain thread could not count on once the runtime
// stops and abandons the watcher).
class ConnectWatcher {
 public:
  ConnectWatcher(const Context& ctx, const std::shared_ptr<Socket>& s) : pd_(s->pd) {
    if (!ctx.done()) return;  // never cancelled
    if (auto d = ctx.deadline()) rt::poller.set_deadline(pd_, deadline_ns(*d), false, true);
    state_ = std::make_shared<std::atomic<State>>(State::watching);
    finished_ = chan<std::monostate>();
    goro::go([s, ctx, state = state_, finished = finished_] {
      select(on_recv(ctx.done(), [&](std::optional<std::monostate>) {
               State expected = State::watching;
               if (state->compare_exchange_strong(expected, State::interrupted))
                 rt::poller.set_deadline(s->pd, -1, false, true);
             }),
             on_recv(finished));
    });
  }
  ~ConnectWatcher() {  // lets the watcher end
    if (finished_) finished_.close();
  }
  ConnectWatcher(const ConnectWatcher&) = delete;
  ConnectWatcher& operator=(const ConnectWatcher&) = delete;

  // Ends the watch. True if the watcher interrupted the connect (or is about to); otherwise the
  // socket is the caller's from here, without the context's deadline.
  bool stop() {
    if (!state_) return false;
    State expected = State::watching;
    if (!state_->compare_exchange_strong(expected, State::finished)) return true;
    rt::poller.set_deadline(pd_, 0, false, true);
    return false;
  }

 private:
  enum class State { watching, interrupted, finished };
  rt::PollDesc* const pd_;
  std::shared_ptr<std::atomic<State>> state_;
  chan<std::monostate> finished_ = chan<std::monostate>::nil();
};

}  // namespace

Conn dial(std::string_view address) { return dial(address, DialOptions{}); }

Conn dial(std::string_view address, Context ctx) {
  DialOptions options;
  options.context = std::move(ctx);
  return dial(address, options);
}

Conn dial(std::string_view address, const DialOptions& options) {
  const Context& ctx = options.context;
  std::vector<rt::net::Endpoint> local;
  if (!options.local_address.empty()) local = rt::net::resolve_listen(options.local_address);
  auto throw_ctx = [&](std::error_code e) {
    if (e == errc::deadline_exceeded) throw timeout_error("goro: dial " + std::string(address) + ": " + e.message());
    throw std::system_error(e, "goro: dial " + std::string(address));
  };
  if (std::error_code e = ctx.err()) throw_ctx(e);
  int last_error = 0;
  for (const rt::net::Endpoint& e : rt::net::resolve_dial(address)) {
    const rt::net::Endpoint* bind_to = nullptr;  // a local address of the same family, if asked
    for (const auto& l : local)
      if (l.family() == e.family()) bind_to = &l;
    if (!local.empty() && !bind_to) continue;
    std::shared_ptr<Socket> s = open_socket(e.family(), "dial", address);
    if (bind_to) {
      const Socket::Op setup(s);  // (a plain thread's syscalls must not outlive the runtime: Op)
      const int one = 1;  // many connections from one local address to many servers
      ::setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      if (::bind(s->fd, reinterpret_cast<const sockaddr*>(&bind_to->addr), bind_to->len) != 0) {
        last_error = rt::os::errno_now();
        continue;
      }
    }
    ConnectWatcher watcher(ctx, s);
    int err;
    try {
      err = connect_to(s, e);
    } catch (const std::system_error&) {
      if (std::error_code why = ctx.err()) throw_ctx(why);
      throw;
    }
    if (watcher.stop()) throw_ctx(ctx.err());  // done just as the connect finished
    if (err == 0) {
      const Socket::Op setup(s);
      set_tcp_options(s->fd);
      s->local = sock_name(s->fd, false);
      s->remote = sock_name(s->fd, true);
      return Conn(std::move(s));
    }
    last_error = err;
  }
  if (!last_error) last_error = EAFNOSUPPORT;  // no local address of the right family
  throw std::system_error(last_error, std::system_category(), "goro: dial " + std::string(address));
}

}  // namespace goro::net
