// goro/net.hpp — TCP on the runtime's poller: a goroutine per connection, plain blocking code.
//
//   auto listener = goro::net::listen(":8080");
//   for (;;) {
//     goro::net::Conn conn = listener.accept();
//     goro::go([conn]() mutable {
//       std::byte buf[4096];
//       while (std::size_t n = conn.read(buf)) conn.write({buf, n});   // echo until EOF
//     });
//   }
//
// read, write, accept and dial park only the calling goroutine (wait reason "IO wait"); the
// worker runs other goroutines meanwhile. From a plain thread they block that thread.
// Errors are std::system_error. A passed deadline throws timeout_error (errc::timed_out).
// Closing a Listener or Conn — from any goroutine — makes its blocked calls throw at once;
// closing twice is harmless. Writes never raise SIGPIPE. Conn and Listener are shared handles,
// like chan: copies refer to the same socket (so the operations are const), which is closed by
// close() or when the last copy goes — a call still blocked on it counts as a copy.
// Connections, dialed or accepted, have Go's TCP defaults: no Nagle delay (TCP_NODELAY), and
// keep-alive probes after 15 s idle, every 15 s (a vanished peer ends a blocked read).
// Addresses: "127.0.0.1:8080", "[::1]:0", ":0" (every interface, IPv4 and IPv6), "host:port"
// (resolved in a blocking() call). Port 0 picks a free port; address() tells which.
#pragma once

#include <goro/context.hpp>
#include <goro/time.hpp>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace goro::net {

// A deadline passed. Also a std::system_error with std::errc::timed_out.
struct timeout_error : std::system_error {
  explicit timeout_error(const std::string& what)
      : std::system_error(std::make_error_code(std::errc::timed_out), what) {}
};

namespace detail {
struct Socket;
}

// Options for dial (Go's net.Dialer).
struct DialOptions {
  Context context = background();  // cancellation and deadline of the dial itself
  std::string local_address;       // bind to this "host:port" first ("127.0.0.2:0"); empty: any
};

class Conn {
 public:
  Conn() = default;  // not connected
  explicit operator bool() const { return s_ != nullptr; }

  // Reads what is available, at least 1 byte; 0 only at end of stream (or for an empty buf).
  std::size_t read(std::span<std::byte> buf) const;
  std::size_t read(std::span<char> buf) const { return read(std::as_writable_bytes(buf)); }
  // Writes all of data, or throws.
  std::size_t write(std::span<const std::byte> data) const;
  std::size_t write(std::string_view text) const { return write(std::as_bytes(std::span(text.data(), text.size()))); }

  void close() const;
  // Shuts down the sending side (Go's TCPConn.CloseWrite): the peer reads end of stream, and
  // this side can still read what the peer sends. It does not wait for a write under way, which
  // then fails.
  void close_write() const;

  // Deadlines for future and pending calls; time_point{} clears one.
  void set_deadline(time_point t) const;
  void set_read_deadline(time_point t) const;
  void set_write_deadline(time_point t) const;
  // Time points of any unit, saturated rather than overflowing (goro/time.hpp): a deadline at
  // time_point<steady_clock, seconds>::max() is never reached.
  template <class Duration>
  void set_deadline(std::chrono::time_point<std::chrono::steady_clock, Duration> t) const {
    set_deadline(goro::detail::saturated_time(t));
  }
  template <class Duration>
  void set_read_deadline(std::chrono::time_point<std::chrono::steady_clock, Duration> t) const {
    set_read_deadline(goro::detail::saturated_time(t));
  }
  template <class Duration>
  void set_write_deadline(std::chrono::time_point<std::chrono::steady_clock, Duration> t) const {
    set_write_deadline(goro::detail::saturated_time(t));
  }

  std::string local_address() const;
  std::string remote_address() const;

 private:
  friend class Listener;
  friend Conn dial(std::string_view address, const DialOptions& options);
  explicit Conn(std::shared_ptr<detail::Socket> s) : s_(std::move(s)) {}
  std::shared_ptr<detail::Socket> s_;
};

class Listener {
 public:
  Listener() = default;
  explicit operator bool() const { return s_ != nullptr; }

  // Waits for the next connection. EMFILE/ENFILE (descriptor limit) throw a std::system_error
  // saying so; the listener stays usable and a later accept() succeeds once descriptors free up.
  Conn accept() const;
  void close() const;
  std::string address() const;  // the bound "host:port"

 private:
  friend Listener listen(std::string_view address);
  explicit Listener(std::shared_ptr<detail::Socket> s) : s_(std::move(s)) {}
  std::shared_ptr<detail::Socket> s_;
};

Listener listen(std::string_view address);
Conn dial(std::string_view address);
// Gives up, closing the socket, when ctx is cancelled (std::system_error with ctx.err()) or
// its deadline passes (timeout_error).
Conn dial(std::string_view address, Context ctx);
Conn dial(std::string_view address, const DialOptions& options);

}  // namespace goro::net
