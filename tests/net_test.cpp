// tests/net_test.cpp — TCP on the poller: echo over IPv4 and IPv6, many connections, EOF,
// partial writes, deadlines, close from another goroutine, resets, EPIPE, EMFILE, dial with a
// context, plain threads, and no descriptor leaks.
#include "support.hpp"

#include "net/poller.hpp"  // white-box: the interrupt rule of the poller

#include <goro/goro.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace goro_test;
using namespace std::chrono_literals;
namespace net = goro::net;

namespace {

int open_fds() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (::readdir(d)) ++n;
  ::closedir(d);
  return n;
}

// Serves echo on `ln` until it is closed.
void serve_echo(net::Listener ln) {
  goro::go([ln]() mutable {
    for (;;) {
      net::Conn c;
      try {
        c = ln.accept();
      } catch (const std::system_error&) {
        return;  // closed
      }
      goro::go([c]() mutable {
        std::byte buf[4096];
        try {
          while (std::size_t n = c.read(buf)) c.write({buf, n});
        } catch (const std::system_error&) {
        }
        c.close();
      });
    }
  });
}

// Reads exactly buf.size() bytes.
void read_full(net::Conn& c, std::span<char> buf) {
  std::size_t got = 0;
  while (got < buf.size()) {
    const std::size_t n = c.read(buf.subspan(got));
    REQUIRE(n > 0);
    got += n;
  }
}

std::string port_of(const std::string& address) { return address.substr(address.rfind(':') + 1); }

// Dials ln while a goroutine accepts: {the dialed end, the accepted end}.
std::pair<net::Conn, net::Conn> dial_accept(net::Listener ln) {
  goro::chan<net::Conn> accepted(1);
  goro::go([ln, accepted]() mutable { accepted.send(ln.accept()); });
  net::Conn conn = net::dial(ln.address());
  return {conn, *accepted.recv()};
}

}  // namespace

TEST_CASE("echo over IPv4 and IPv6 loopback, with the addresses reported") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      // (No CAPTURE/INFO inside goroutines: doctest keeps them in thread_locals, and a goroutine
      // that parks may resume on another thread. See the README on thread_local.)
      for (const char* where : {"127.0.0.1:0", "[::1]:0", ":0"}) {
        net::Listener ln = net::listen(where);
        const std::string addr = ln.address();
        CHECK_MESSAGE(port_of(addr) != "0", where);
        serve_echo(ln);
        const std::string target = std::string(where) == "[::1]:0" ? "[::1]:" + port_of(addr) : "127.0.0.1:" + port_of(addr);
        net::Conn conn = net::dial(target);
        CHECK_MESSAGE(conn.remote_address() == target, where);
        CHECK(!conn.local_address().empty());
        for (int i = 0; i < 100; ++i) {
          const std::string msg = "message " + std::to_string(i);
          CHECK(conn.write(msg) == msg.size());
          std::string back(msg.size(), '\0');
          read_full(conn, back);
          CHECK(back == msg);
        }
        conn.close();
        ln.close();
      }
    });
  });
}

// A dual-stack listener (":0") accepts IPv4 clients as IPv4-mapped IPv6 addresses. Go reports
// them in dotted form ("127.0.0.1:5000", net.IP's String), as does goro; they read
// "[::ffff:127.0.0.1]:5000" before, so a server comparing or logging client addresses saw
// another form for the same client depending on how it listened.
TEST_CASE("an IPv4 client of a dual-stack listener has IPv4 addresses") {
  goro::run([] {
    net::Listener ln = net::listen(":0");
    const std::string port = port_of(ln.address());
    CHECK(ln.address() == "[::]:" + port);
    goro::chan<net::Conn> accepted(1);
    goro::go([ln, accepted] { accepted.send(ln.accept()); });
    net::Conn conn = net::dial("127.0.0.1:" + port);
    net::Conn peer = *accepted.recv();
    CHECK(peer.local_address() == "127.0.0.1:" + port);
    CHECK(peer.remote_address() == conn.local_address());
    CHECK(starts_with(peer.remote_address(), "127.0.0.1:"));
    // An IPv6 client stays IPv6.
    goro::go([ln, accepted] { accepted.send(ln.accept()); });
    net::Conn conn6 = net::dial("[::1]:" + port);
    net::Conn peer6 = *accepted.recv();
    CHECK(peer6.local_address() == "[::1]:" + port);
    CHECK(peer6.remote_address() == conn6.local_address());
    ln.close();
  });
}

// A link-local IPv6 address means something only with its zone (the interface): without it,
// connect() fails with EINVAL. address() and the connection addresses dropped the zone, so
// dial(ln.address()) failed for a listener on "[fe80::1%eth0]:0". Go prints the zone
// ("[fe80::1%eth0]:80"), and so does goro now. Needs a link-local address on an interface that
// is up; skipped without one.
TEST_CASE("a link-local IPv6 address keeps its zone, so address() can be dialled") {
  std::string host;  // "fe80::...%eth0"
  ifaddrs* ifs = nullptr;
  REQUIRE(::getifaddrs(&ifs) == 0);
  for (ifaddrs* i = ifs; i && host.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET6 || !(i->ifa_flags & IFF_UP)) continue;
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
    if (!IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr)) continue;
    char text[INET6_ADDRSTRLEN];
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    host = std::string(text) + "%" + i->ifa_name;
  }
  ::freeifaddrs(ifs);
  if (host.empty()) {
    MESSAGE("no link-local IPv6 address on this machine: skipped");
    return;
  }
  goro::run([&] {
    net::Listener ln = net::listen("[" + host + "]:0");
    CHECK(ln.address() == "[" + host + "]:" + port_of(ln.address()));
    serve_echo(ln);
    net::Conn conn = net::dial(ln.address());
    CHECK(conn.remote_address() == ln.address());
    CHECK(starts_with(conn.local_address(), "[" + host + "]:"));
    conn.write(std::string_view("zone"));
    char buf[4];
    read_full(conn, buf);
    CHECK(std::string(buf, 4) == "zone");
    conn.close();
    ln.close();
  });
}

// Go turns TCP keep-alive on for every connection it dials or accepts (15 s between probes,
// net.Dialer.KeepAlive and ListenConfig.KeepAlive), so that a peer that vanished without a FIN
// or RST (a crashed host, a dropped NAT entry) ends the blocked read with an error some minutes
// later instead of holding the goroutine and its descriptor for ever. goro's connections had it
// off.
TEST_CASE("dialed and accepted connections have TCP keep-alive on, as in Go") {
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    auto [conn, peer] = dial_accept(ln);
    // The descriptors of both ends: the sockets of this process with those addresses.
    auto fd_of = [](const net::Conn& c) {
      for (int f = 3; f < 4096; ++f) {
        sockaddr_storage a{}, b{};
        socklen_t alen = sizeof a, blen = sizeof b;
        if (::getsockname(f, reinterpret_cast<sockaddr*>(&a), &alen) != 0 ||
            ::getpeername(f, reinterpret_cast<sockaddr*>(&b), &blen) != 0 || a.ss_family != AF_INET)
          continue;
        auto text = [](const sockaddr_storage& s) {
          const auto* in = reinterpret_cast<const sockaddr_in*>(&s);
          char host[INET_ADDRSTRLEN];
          ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
          return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
        };
        if (text(a) == c.local_address() && text(b) == c.remote_address()) return f;
      }
      return -1;
    };
    for (const net::Conn& c : {conn, peer}) {
      const int fd = fd_of(c);
      REQUIRE(fd >= 0);
      int on = 0, idle = 0, interval = 0;
      socklen_t len = sizeof on;
      ::getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &len);
      ::getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &len);
      ::getsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, &len);
      CHECK(on == 1);
      CHECK(idle == 15);
      CHECK(interval == 15);
    }
    ln.close();
  });
}

TEST_CASE("hundreds of concurrent connections, a goroutine each") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      net::Listener ln = net::listen("127.0.0.1:0");
      serve_echo(ln);
      const int conns = static_cast<int>(scaled(400));
      goro::WaitGroup wg;
      std::atomic<int> ok{0};
      for (int i = 0; i < conns; ++i) {
        wg.add(1);
        goro::go([&, i] {
          net::Conn conn = net::dial(ln.address());
          for (int k = 0; k < 20; ++k) {
            const std::string msg = std::to_string(i) + "/" + std::to_string(k) + std::string(50, 'x');
            conn.write(msg);
            std::string back(msg.size(), '\0');
            read_full(conn, back);
            if (back == msg) ++ok;
          }
          conn.close();
          wg.done();
        });
      }
      wg.wait();
      CHECK(ok == conns * 20);
      ln.close();
    });
  });
}

TEST_CASE("read returns 0 at end of stream; large writes arrive whole and in order") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      net::Listener ln = net::listen("127.0.0.1:0");
      constexpr std::size_t kBytes = 8 << 20;  // far more than a socket buffer: partial writes
      goro::chan<std::size_t> received(1);
      goro::go([ln, received]() mutable {
        net::Conn c = ln.accept();
        std::vector<char> buf(64 << 10);
        std::size_t total = 0, errors = 0;
        while (std::size_t n = c.read(std::span<char>(buf))) {
          for (std::size_t i = 0; i < n; ++i)
            if (buf[i] != static_cast<char>((total + i) % 251)) ++errors;
          total += n;
          if (total % (1 << 20) < n) goro::sleep_for(1ms);  // a slow reader now and then
        }
        received.send(errors ? 0 : total);
      });
      net::Conn conn = net::dial(ln.address());
      std::vector<char> data(kBytes);
      for (std::size_t i = 0; i < kBytes; ++i) data[i] = static_cast<char>(i % 251);
      CHECK(conn.write(std::as_bytes(std::span(data))) == kBytes);
      conn.close();  // the reader sees EOF after the last byte
      CHECK(received.recv() == kBytes);
      ln.close();
    });
  });
}

TEST_CASE("close_write: the peer reads end of stream and can still answer") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      net::Listener ln = net::listen("127.0.0.1:0");
      goro::go([ln] {
        net::Conn peer = ln.accept();
        std::string got;
        char buf[64];
        while (std::size_t n = peer.read(std::span<char>(buf))) got.append(buf, n);  // to EOF
        peer.write("got " + got);
        peer.close();
      });
      net::Conn conn = net::dial(ln.address());
      conn.write(std::string_view("request"));
      conn.close_write();
      CHECK_THROWS_AS(conn.write(std::string_view("more")), std::system_error);  // EPIPE
      std::string answer;
      char buf[64];
      while (std::size_t n = conn.read(std::span<char>(buf))) answer.append(buf, n);
      CHECK(answer == "got request");
      CHECK(conn.read(std::span<char>(buf, 0)) == 0);  // an empty buffer reads nothing
      conn.close();
      CHECK_THROWS_AS(conn.close_write(), std::system_error);  // closed
      ln.close();
    });
  });
}

TEST_CASE("close_write does not wait for a writer blocked on a full buffer") {
  // As Go's CloseWrite: the FIN goes out at once, and the blocked write fails (EPIPE).
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      net::Listener ln = net::listen("127.0.0.1:0");
      auto [conn, peer] = dial_accept(ln);  // peer never reads
      goro::chan<bool> write_failed(1);
      goro::go([conn, write_failed]() mutable {
        std::vector<char> chunk(1 << 20, 'y');
        try {
          for (;;) conn.write(std::as_bytes(std::span(chunk)));
        } catch (const std::system_error&) {
          write_failed.send(true);
        }
      });
      REQUIRE(wait_parked("IO wait"));
      goro::chan<bool> shut(1);
      goro::go([conn, shut]() mutable {
        conn.close_write();
        shut.send(true);
      });
      bool returned = false;
      goro::select(goro::on_recv(shut, [&](std::optional<bool>) { returned = true; }),
                   goro::on_recv(goro::after(10s), [](auto) {}));
      CHECK(returned);
      if (returned) CHECK(write_failed.recv() == true);
      conn.close();  // frees a close_write still waiting, if it was
      if (!returned) shut.recv();
      peer.close();
    });
  });
}

TEST_CASE("a non-blocking poll leaves an interrupt to the blocked waiter") {
  // An interrupt (an earlier timer, the runtime stopping) is meant for the worker blocked in
  // epoll_wait. The monitor polls without blocking beside it; when such a poll drained the
  // interrupt, the waiter slept on past a timer that nobody then ran — every P idle, a 1 ms sleep
  // 15 s overdue (the large-writes test stalled that way under ThreadSanitizer). At procs 1,
  // with no socket open, nobody else polls while main runs, so the test drives the poller alone.
  goro::Config c;
  c.procs = 1;
  goro::run(c, [] {
    auto& poller = goro::rt::poller;
    auto blocking_poll_returns_at_once = [&] {
      const auto start = std::chrono::steady_clock::now();
      goro::blocking([&] { poller.poll(std::chrono::nanoseconds(2s).count()); });
      return std::chrono::steady_clock::now() - start < 1s;
    };
    poller.interrupt();
    poller.poll(0);  // a non-blocking poll sees the interrupt and must leave it
    CHECK(blocking_poll_returns_at_once());
    // The blocking poll consumed it: the next interrupt signals again.
    poller.interrupt();
    CHECK(blocking_poll_returns_at_once());
  });
}

TEST_CASE("urgent (out-of-band) data does not stall a reader") {
  // TCP stops a read short at an urgent mark, with data still queued behind it and no further
  // readiness event to come: a reader that took a short read for an empty socket (to save the
  // read that fails with EAGAIN) would wait forever here. So would one at a FIN or RST that
  // arrived with the last data. Conn::read saves that read only until an event reports such a
  // mark, a hang-up or an error.
  each_procs({1u, 2u}, [](goro::Config c) {
    goro::run(c, [] {
      net::Listener ln = net::listen("127.0.0.1:0");
      goro::chan<net::Conn> accepted(1);
      goro::go([ln, accepted]() mutable { accepted.send(ln.accept()); });
      const int raw = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(port_of(ln.address()))));
      auto* addr = reinterpret_cast<sockaddr*>(&a);
      REQUIRE(goro::blocking([&] { return ::connect(raw, addr, sizeof a); }) == 0);
      net::Conn conn = *accepted.recv();
      char buf[64];
      auto read_some = [&] { return conn.read(std::as_writable_bytes(std::span(buf))); };
      REQUIRE(::send(raw, "x", 1, 0) == 1);
      CHECK(read_some() == 1);
      // Data, an urgent byte, more data, all arrived before the reader looks (given 50 ms), so
      // the reader's one event covers all of it and its first read stops at the mark.
      REQUIRE(::send(raw, "abc", 3, 0) == 3);
      REQUIRE(::send(raw, "d", 1, MSG_OOB) == 1);
      REQUIRE(::send(raw, "efg", 3, 0) == 3);
      goro::sleep_for(50ms);
      conn.set_read_deadline(std::chrono::steady_clock::now() + 10s);
      std::string got;
      while (got.size() < 6) got.append(buf, read_some());  // a stalled read times out and throws
      CHECK(got == "abcefg");  // the urgent byte is out of band (SO_OOBINLINE is off)
      // Nothing left: the next read waits for data (here: until its deadline), not in a loop of
      // reads that fail with EAGAIN.
      conn.set_read_deadline(std::chrono::steady_clock::now() + 20ms);
      CHECK_THROWS_AS(read_some(), net::timeout_error);
      conn.set_read_deadline({});
      ::close(raw);
      CHECK(read_some() == 0);
      ln.close();
    });
  });
}

TEST_CASE("deadlines: a passed deadline throws timeout_error; clearing it waits again") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      net::Listener ln = net::listen("127.0.0.1:0");
      auto [conn, peer] = dial_accept(ln);
      char buf[16];

      const auto start = std::chrono::steady_clock::now();
      conn.set_read_deadline(start + 30ms);
      try {
        conn.read(std::span<char>(buf));
        FAIL("read did not time out");
      } catch (const net::timeout_error& e) {
        CHECK(e.code() == std::errc::timed_out);
      }
      CHECK(std::chrono::steady_clock::now() - start >= 30ms);
      // Every later read fails at once until the deadline is moved...
      CHECK_THROWS_AS(conn.read(std::span<char>(buf)), net::timeout_error);
      // ... or cleared.
      conn.set_read_deadline({});
      peer.write(std::string_view("hi"));
      CHECK(conn.read(std::span<char>(buf)) == 2);

      // A deadline set while a read is blocked wakes it.
      goro::go([conn]() mutable {
        goro::sleep_for(20ms);
        conn.set_read_deadline(std::chrono::steady_clock::now() - 1s);
      });
      CHECK_THROWS_AS(conn.read(std::span<char>(buf)), net::timeout_error);
      conn.set_deadline({});

      // Writes: fill the peer's receive buffer, then time out.
      conn.set_write_deadline(std::chrono::steady_clock::now() + 50ms);
      std::vector<char> chunk(1 << 20, 'z');
      CHECK_THROWS_AS(
          [&] {
            for (;;) conn.write(std::as_bytes(std::span(chunk)));
          }(),
          net::timeout_error);
      ln.close();
    });
  });
}

// std::chrono converts a coarser time point to nanoseconds without checking for overflow:
// time_point<steady_clock, seconds>::max() would become a deadline in the past.
TEST_CASE("deadlines of any unit too far for nanoseconds are never reached") {
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    auto [conn, peer] = dial_accept(ln);
    using seconds_point = std::chrono::time_point<std::chrono::steady_clock, std::chrono::seconds>;
    conn.set_read_deadline(seconds_point::max());
    goro::go([peer] {
      goro::sleep_for(20ms);
      peer.write(std::string_view("hi"));
    });
    char buf[16];
    CHECK(conn.read(std::span<char>(buf)) == 2);
    conn.set_deadline(seconds_point::max());
    conn.set_write_deadline(seconds_point::max());
    CHECK(conn.write(std::string_view("ok")) == 2);
    ln.close();
  });
}

// Conn's methods may be called from several goroutines at once, as net.Conn's: a watchdog moving
// the deadline while the reader sets its own, or someone closing meanwhile. (Before the commit
// that added this test, set_deadline armed and disarmed the timer outside the descriptor's lock:
// two setters could both arm one timer entry, and the timer heap was corrupted.)
TEST_CASE("deadlines set from several goroutines at once, and racing close, keep the timers sound") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      net::Listener ln = net::listen("127.0.0.1:0");
      for (int round = 0; round < 20; ++round) {
        auto [conn, peer] = dial_accept(ln);
        goro::WaitGroup wg;
        for (int g = 0; g < 3; ++g) {
          wg.add(1);
          goro::go([conn, g, &wg]() mutable {
            try {
              for (int i = 0; i < 2000; ++i) {
                const auto when = std::chrono::steady_clock::now() + std::chrono::seconds(1 + i % 3);
                if (g == 0) conn.set_deadline(when);
                else if (g == 1) conn.set_read_deadline(when);
                else conn.set_write_deadline(i % 2 ? when : goro::time_point{});
                if (i % 64 == 0) goro::yield();
              }
            } catch (const std::system_error&) {
              // closed meanwhile (the last round closes early)
            }
            wg.done();
          });
        }
        if (round % 2) conn.close();  // racing the setters
        wg.wait();
        char buf[4];
        if (round % 2) {
          CHECK_THROWS_AS(conn.read(std::span<char>(buf)), std::system_error);  // closed
          continue;
        }
        conn.set_read_deadline(std::chrono::steady_clock::now() + 10ms);  // the timers still work
        CHECK_THROWS_AS(conn.read(std::span<char>(buf)), net::timeout_error);
      }
      ln.close();
    });
  });
}

TEST_CASE("closing from another goroutine wakes blocked read, write and accept at once") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      net::Listener ln = net::listen("127.0.0.1:0");
      auto [conn, peer] = dial_accept(ln);

      goro::go([conn]() mutable {
        goro::sleep_for(10ms);
        conn.close();
      });
      char buf[16];
      try {
        conn.read(std::span<char>(buf));
        FAIL("read returned");
      } catch (const std::system_error& e) {
        CHECK(contains(e.what(), "closed network connection"));
      }
      CHECK_THROWS_AS(conn.write(std::string_view("x")), std::system_error);  // closed stays closed
      conn.close();  // twice: harmless

      // A writer blocked on a full buffer.
      net::Conn writer = net::dial(ln.address());
      goro::go([writer]() mutable {
        goro::sleep_for(30ms);
        writer.close();
      });
      std::vector<char> chunk(1 << 20, 'y');
      CHECK_THROWS_AS(
          [&] {
            for (;;) writer.write(std::as_bytes(std::span(chunk)));
          }(),
          std::system_error);

      // accept (the writer's connection is still waiting in the backlog: take it first).
      net::Conn writer_peer = ln.accept();
      goro::go([ln]() mutable {
        goro::sleep_for(10ms);
        ln.close();
      });
      net::Listener same = ln;
      CHECK_THROWS_AS(same.accept(), std::system_error);
      writer_peer.close();
      peer.close();
    });
  });
}

TEST_CASE("a reset connection and a write to a closed peer are errors, not signals") {
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    auto [conn, peer] = dial_accept(ln);
    // The peer vanishes; writing keeps failing with EPIPE/ECONNRESET — and no SIGPIPE.
    peer.close();
    goro::sleep_for(10ms);
    bool failed = false;
    try {
      for (int i = 0; i < 100; ++i) {
        conn.write(std::string(1000, 'a'));
        goro::sleep_for(1ms);
      }
    } catch (const std::system_error& e) {
      failed = e.code() == std::errc::broken_pipe || e.code() == std::errc::connection_reset;
    }
    CHECK(failed);

    // A reset (SO_LINGER 0 on the other side) makes a read throw ECONNRESET.
    auto [c2, p2] = dial_accept(ln);
    const int fd = [&] {
      // Find p2's descriptor through its local/remote pair: the newest socket in our process.
      int best = -1;
      for (int f = 3; f < 4096; ++f) {
        sockaddr_in a{};
        socklen_t len = sizeof a;
        if (::getpeername(f, reinterpret_cast<sockaddr*>(&a), &len) == 0 &&
            "127.0.0.1:" + std::to_string(ntohs(a.sin_port)) == c2.local_address())
          best = f;
      }
      return best;
    }();
    REQUIRE(fd >= 0);
    linger lg{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    p2.close();
    char buf[8];
    try {
      c2.read(std::span<char>(buf));
      FAIL("no reset seen");
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::connection_reset);
    }
    ln.close();
  });
}

GORO_CHILD("emfile") {
  rlimit lim{256, 256};
  ::setrlimit(RLIMIT_NOFILE, &lim);
  return goro::run([]() -> int {
    net::Listener ln = net::listen("127.0.0.1:0");
    std::vector<net::Conn> clients;
    for (int i = 0; i < 3; ++i) clients.push_back(net::dial(ln.address()));  // pending in the backlog
    std::vector<int> hogs;  // use up every remaining descriptor
    for (int fd; (fd = ::dup(0)) >= 0;) hogs.push_back(fd);
    try {
      ln.accept();
      return 2;
    } catch (const std::system_error& e) {
      if (e.code() != std::errc::too_many_files_open) return 3;
      if (std::string(e.what()).find("listener stays usable") == std::string::npos) return 4;
    }
    ::close(hogs.back());  // one descriptor free again: the pending connection is served
    hogs.pop_back();
    net::Conn served = ln.accept();
    served.write(std::string_view("ok"));
    char buf[2];
    std::size_t got = 0;  // (no doctest assertions in a child process)
    while (got < 2)
      if (std::size_t n = clients[0].read(std::span<char>(buf + got, 2 - got))) got += n;
      else return 5;
    for (int fd : hogs) ::close(fd);
    return std::string(buf, 2) == "ok" ? 0 : 6;
  });
}

TEST_CASE("EMFILE: accept reports the descriptor limit clearly and keeps serving") {
  CHECK_CHILD_SUCCEEDS("emfile");
}

TEST_CASE("dial: refused, bad addresses, and a context that is cancelled or times out") {
  goro::run([] {
    // A port nobody listens on.
    net::Listener tmp = net::listen("127.0.0.1:0");
    const std::string dead = tmp.address();
    tmp.close();
    try {
      net::dial(dead);
      FAIL("dial succeeded");
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::connection_refused);
    }
    // A malformed address is a std::system_error too, as every net error.
    auto rejects = [](const char* op, const char* bad, auto call) {
      try {
        call();
        FAIL_CHECK(op << " accepted " << bad);
      } catch (const std::system_error& e) {
        CHECK_MESSAGE(e.code() == std::errc::invalid_argument, op << " " << bad);
        CHECK_MESSAGE(contains(e.what(), "bad address"), std::string(op) << " " << bad);
      }
    };
    for (const char* bad : {"no-port", "::1:80", "127.0.0.1:99999", "127.0.0.1:http", "127.0.0.1:"}) {
      rejects("listen", bad, [&] { net::listen(bad); });
      rejects("dial", bad, [&] { net::dial(bad); });
    }

    // A listener whose queue is full (backlog 0, one connection waiting, never accepting):
    // further connects hang. The filling connection is in the queue only once the listener has
    // processed its final ACK, which on a loaded machine can lag behind the client's connect()
    // returning (softirqs deferred to ksoftirqd): wait for the listener to count it (TCP_INFO's
    // tcpi_unacked is a listener's queue length). From then on the listener drops every SYN.
    std::vector<net::Conn> fillers;
    std::vector<int> listeners;
    auto full_listener = [&]() -> std::string {
      const int raw = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      REQUIRE(::bind(raw, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
      REQUIRE(::listen(raw, 0) == 0);
      socklen_t len = sizeof a;
      ::getsockname(raw, reinterpret_cast<sockaddr*>(&a), &len);
      listeners.push_back(raw);
      const std::string addr = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
      fillers.push_back(net::dial(addr));  // fills the accept queue
      for (int waited_ms = 0;; ++waited_ms) {
        tcp_info info{};
        socklen_t info_len = sizeof info;
        REQUIRE(::getsockopt(raw, IPPROTO_TCP, TCP_INFO, &info, &info_len) == 0);
        if (info.tcpi_unacked >= 1) break;
        REQUIRE(waited_ms < 5000);
        goro::sleep_for(1ms);
      }
      return addr;
    };
    // The error of a dial (with a fresh context from make_ctx) to a full listener: it must block
    // until the context ends it. (dial once returned such a connection as established: the
    // socket's stale "writable" event from before connect() started woke it, and SO_ERROR is 0
    // while the handshake is still under way.)
    auto blocked_dial = [&](auto make_ctx) -> std::exception_ptr {
      const std::string full = full_listener();
      auto [ctx, cancel] = make_ctx();
      try {
        net::Conn c = net::dial(full, ctx);
        FAIL_CHECK("dial to a full listener returned a connection to " << c.remote_address());
      } catch (...) {
        cancel();
        return std::current_exception();
      }
      cancel();
      return nullptr;
    };

    const auto start = std::chrono::steady_clock::now();
    std::exception_ptr timed_out =
        blocked_dial([] { return goro::with_timeout(goro::background(), 100ms); });
    REQUIRE(timed_out);
    CHECK(std::chrono::steady_clock::now() - start >= 90ms);
    CHECK_THROWS_AS(std::rethrow_exception(timed_out), net::timeout_error);

    std::exception_ptr cancelled = blocked_dial([] {
      auto pair = goro::with_cancel(goro::background());
      goro::go([cancel = pair.second] {
        goro::sleep_for(30ms);
        cancel();
      });
      return pair;
    });
    REQUIRE(cancelled);
    try {
      std::rethrow_exception(cancelled);
    } catch (const net::timeout_error&) {
      FAIL("a cancel is not a timeout");
    } catch (const std::system_error& e) {
      CHECK(e.code() == goro::errc::canceled);
    }

    // A context already done fails at once.
    auto [done, cancel_now] = goro::with_cancel(goro::background());
    cancel_now();
    CHECK_THROWS_AS(net::dial(full_listener(), done), std::system_error);
    for (int fd : listeners) ::close(fd);
  });
}

TEST_CASE("dial with a context: a cancel after dial returned never reaches the connection") {
  // dial's watcher (which interrupts a connect when the context is done) must not be able to
  // touch the connection once dial returns; a late one set the connection's write deadline in the
  // past, and every write then threw timeout_error.
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      net::Listener ln = net::listen("127.0.0.1:0");
      serve_echo(ln);
      for (int i = 0; i < 200; ++i) {
        auto [ctx, cancel] = goro::with_cancel(goro::background());
        net::Conn conn = net::dial(ln.address(), ctx);
        cancel();
        for (int y = 0; y < 3; ++y) goro::yield();  // let a straggling watcher run
        const std::string msg = "after cancel " + std::to_string(i);
        std::size_t wrote = 0;
        try {
          wrote = conn.write(msg);
        } catch (const std::system_error& e) {
          FAIL_CHECK("write after cancel threw: " << std::string(e.what()));
          break;
        }
        CHECK(wrote == msg.size());
        std::string back(msg.size(), '\0');
        read_full(conn, back);
        CHECK(back == msg);
      }
      ln.close();
    });
  });
}

TEST_CASE("plain threads read and write connections; a blocked one sleeps") {
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    serve_echo(ln);
    std::thread t([addr = ln.address()] {
      net::Conn conn = net::dial(addr);
      for (int i = 0; i < 50; ++i) {
        conn.write(std::string_view("ping"));
        char buf[4];
        read_full(conn, buf);
        CHECK(std::string(buf, 4) == "ping");
      }
      conn.close();
    });
    t.join();
    ln.close();
  });
}

// A plain thread blocked on a socket sleeps on its own futex, so a worker must be in epoll_wait
// for it. Workers go there when they run out of work and see someone waiting on a socket; but
// when every worker had already parked (every goroutine asleep on a channel, no timer armed)
// before the plain thread began to wait, nobody woke up to poll, and its data never reached it.
TEST_CASE("a plain thread blocked on a socket is woken while every goroutine sleeps") {
  each_procs({1u, 2u}, [](goro::Config c) {
    goro::run(c, [] {
      net::Listener ln = net::listen("127.0.0.1:0");
      auto [conn, peer] = dial_accept(ln);
      ln.close();
      goro::chan<std::string> got(1);
      std::atomic<bool> read_returned{false};
      std::thread reader([conn, got, &read_returned] {
        goro::yield();  // a possible waker from here on (deadlock detection)
        std::this_thread::sleep_for(50ms);  // meanwhile main sleeps on `got`, the workers park
        char buf[8];
        std::string s;
        try {
          s = std::string(buf, conn.read(std::span<char>(buf)));
        } catch (const std::system_error& e) {
          s = e.what();
        }
        read_returned = true;
        got.send(s);
      });
      std::thread writer([peer, conn, &read_returned] {
        while (goro::rt::poller.waiters() == 0) std::this_thread::sleep_for(1ms);  // reader asleep
        peer.write(std::string_view("hi"));
        const auto give_up = std::chrono::steady_clock::now() + 10s;
        while (!read_returned && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
        conn.close();  // wakes a reader still asleep (with an error)
      });
      const std::string read = *got.recv();
      CHECK(read == "hi");
      goro::blocking([&] {
        reader.join();
        writer.join();
      });
      peer.close();
    });
  });
}

TEST_CASE("connections outliving their runtime fail cleanly; no descriptor leaks") {
  const int before = open_fds();
  net::Conn survivor;
  for (unsigned procs : {1u, 2u}) {
    goro::Config c;
    c.procs = procs;
    goro::run(c, [&] {
      net::Listener ln = net::listen("127.0.0.1:0");
      serve_echo(ln);
      for (int i = 0; i < 50; ++i) {
        net::Conn conn = net::dial(ln.address());
        conn.write(std::string_view("x"));
        char b;
        read_full(conn, std::span<char>(&b, 1));
        if (i == 0) survivor = conn;
        else conn.close();
      }
      ln.close();
      goro::sleep_for(20ms);  // let the servers see EOF and close their ends
    });
  }
  CHECK_THROWS_AS(survivor.write(std::string_view("late")), std::logic_error);
  survivor = net::Conn();
  CHECK(open_fds() == before);
  CHECK_THROWS_AS(net::listen("127.0.0.1:0"), std::logic_error);  // no runtime
}

// A runtime that stops closes the descriptors of the sockets still open. A plain thread may be
// in the middle of an operation on one then — here a long write to a peer that reads as fast as
// it can. The descriptor was closed between two of its syscalls, and the next send() went to
// whatever descriptor took the number meanwhile (here none: it failed with EBADF). Now a plain
// thread's operation holds the runtime off while it makes syscalls, and lets it stop only while
// it waits; woken by the stop, it throws "use of a closed network connection".
TEST_CASE("a plain thread writing while the runtime stops makes no syscall on a closed descriptor") {
  for (int round = 0; round < (GORO_TEST_SANITIZED ? 4 : 10); ++round) {
    const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(lfd, 4) == 0);
    socklen_t len = sizeof a;
    ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
    const std::string addr = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    std::atomic<long> received{0};
    std::string outcome;
    std::thread writer, reader;
    goro::run([&] {
      writer = std::thread([&] {
        net::Conn conn = net::dial(addr);
        std::vector<char> data(16 << 20, 'w');
        try {
          conn.write(std::as_bytes(std::span(data)));
          outcome = "done";
        } catch (const std::exception& e) {
          outcome = e.what();
        }
      });
      reader = std::thread([&] {  // not goro's: it goes on reading while the runtime stops
        const int fd = ::accept(lfd, nullptr, nullptr);
        std::vector<char> buf(1 << 20);
        for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0;) received += n;
        ::close(fd);
      });
      while (received < (2 << 20)) goro::sleep_for(100us);
    });  // returns while the write is under way
    writer.join();
    reader.join();
    ::close(lfd);
    CHECK_MESSAGE((outcome == "done" || contains(outcome, "use of a closed network connection")), outcome);
  }
}

TEST_CASE("dial from a chosen local address") {
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    goro::chan<std::string> peer(1);
    goro::go([ln, peer] { peer.send(ln.accept().remote_address()); });
    net::DialOptions options;
    options.local_address = "127.0.0.2:0";
    net::Conn conn = net::dial(ln.address(), options);
    CHECK(conn.local_address().rfind("127.0.0.2:", 0) == 0);
    CHECK(peer.recv()->rfind("127.0.0.2:", 0) == 0);
    options.local_address = "[::1]:0";  // no IPv6 route to an IPv4 server
    CHECK_THROWS_AS(net::dial(ln.address(), options), std::system_error);
    ln.close();
  });
}

TEST_CASE("goroutines waiting on sockets show in dump as [IO wait]") {
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    std::atomic<bool> accepted{false};
    goro::go([ln, &accepted] {  // waits in accept() until a connection comes
      try {
        net::Conn c = ln.accept();
        accepted = true;
        std::byte b[1];
        c.read(b);  // then in read(): the client never writes
      } catch (const std::system_error&) {
      }
    });
    REQUIRE(wait_parked("IO wait"));
    net::Conn client = net::dial(ln.address());
    REQUIRE(eventually([&] { return accepted.load(); }));
    REQUIRE(wait_parked("IO wait"));  // in read()
    std::ostringstream out;
    goro::dump(out);
    INFO(out.str());
    CHECK(contains(out.str(), "goroutine 2 [IO wait, "));
    client.close();
    ln.close();
  });
}

// A call holds its socket as a handle does (a parked select holds its channels the same way):
// the goroutine that owns the last other handle may drop it while the call waits. That freed the
// socket under the blocked read, which then used the freed memory when it was woken.
TEST_CASE("dropping the last handle while another goroutine is blocked on the connection") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      net::Listener ln = net::listen("127.0.0.1:0");
      auto [dialed, peer] = dial_accept(ln);
      auto owner = std::make_unique<net::Conn>(std::exchange(dialed, net::Conn()));  // the only handle
      goro::chan<std::string> result(1);
      goro::go([reader = owner.get(), result] {  // borrows the owner's handle
        char buf[8];
        try {
          const std::size_t n = reader->read(std::span<char>(buf));
          result.send(std::string(buf, n));
        } catch (const std::system_error& e) {
          result.send(e.what());
        }
      });
      REQUIRE(wait_parked("IO wait"));
      owner.reset();
      peer.write(std::string_view("hi"));
      const std::string got = *result.recv();
      CHECK(got == "hi");  // the read went on, on the socket it started with
      char buf[8];
      CHECK(peer.read(std::span<char>(buf)) == 0);  // and the socket closed when it returned
      ln.close();
    });
  });
}

// A deadline's timer tells that its fire is stale — the deadline moved, or the socket closed,
// since the timer was popped — by its seq, which set_deadline and close() bump under the
// descriptor's lock. The fire compared seq before taking that lock: a set_deadline that came in
// between moved the deadline and returned, and the stale fire then marked the new deadline
// passed, so reads timed out with their deadline an hour away (a stress test that moved
// deadlines just as they expired saw it about once in 100k moves). White-box, to make the
// window wide: the test holds the lock while the timer fires, then moves the deadline.
TEST_CASE("a deadline moved while its old timer fires stays moved") {
  goro::Config c;
  c.procs = 2;
  goro::run(c, [] {
    auto& poller = goro::rt::poller;
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    goro::rt::PollDesc* pd = poller.open(fds[0]);
    auto ns_from_now = [](std::chrono::nanoseconds d) {
      return (std::chrono::steady_clock::now() + d).time_since_epoch().count();
    };
    const int stale = goro::blocking([&] {
      int passed = 0;
      for (int round = 0; round < 24; ++round) {
        poller.set_deadline(pd, ns_from_now(1ms), true, false);
        // Hold the lock until the timer is popped. Not for ever: the fire of the round before
        // may still wait for the lock (a loaded machine), and the worker it holds may be the
        // one to pop this round's timer. Then let that fire in (it is stale) and look again.
        for (;;) {
          pd->lock.lock();
          const auto give_up = std::chrono::steady_clock::now() + 50ms;
          while (pd->rtimer.heap.load() != nullptr && std::chrono::steady_clock::now() < give_up)
            std::this_thread::sleep_for(100us);
          if (pd->rtimer.heap.load() == nullptr) break;  // popped
          pd->lock.unlock();
          std::this_thread::sleep_for(1ms);
        }
        std::this_thread::sleep_for(5ms);  // its fire has looked at seq and waits for the lock
        pd->lock.unlock();
        // Takes the lock at once, while the fire's thread is backing off between its looks.
        poller.set_deadline(pd, ns_from_now(1h), true, false);
        std::this_thread::sleep_for(5ms);  // the fire gets the lock in turn
        passed += poller.check(pd, false) == goro::rt::PollResult::timeout;
      }
      return passed;
    });
    CHECK(stale == 0);
    poller.close(pd);
    ::close(fds[0]);
    poller.release(pd);
    ::close(fds[1]);
  });
}

// A malformed address says what is wrong with it. "[::1]]:80" and "[[::1]]:80" were taken for
// host names and failed to resolve; "127.0.0.1\0:80" listened on 127.0.0.1:80 (the host went to
// inet_pton as a C string); "[::1]" and "[::1]80" were called "unbalanced '['".
// listen(":P") listens on [::]:P, dual-stack, as Go does. If another socket holds [::]:P
// (IPv6 only, so 0.0.0.0:P is still free), Go fails with "address already in use"; goro used to
// move on to 0.0.0.0:P and listen on IPv4 alone, unreachable over IPv6 without a word.
TEST_CASE("listen on every interface fails when the IPv6 wildcard is taken, as in Go") {
  const int other = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (other < 0) return;  // no IPv6 here
  const int one = 1;
  ::setsockopt(other, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  sockaddr_in6 any{};
  any.sin6_family = AF_INET6;
  any.sin6_addr = in6addr_any;
  socklen_t len = sizeof any;
  REQUIRE(::bind(other, reinterpret_cast<sockaddr*>(&any), sizeof any) == 0);
  REQUIRE(::listen(other, 1) == 0);
  REQUIRE(::getsockname(other, reinterpret_cast<sockaddr*>(&any), &len) == 0);
  const std::string port = std::to_string(ntohs(any.sin6_port));
  goro::run([&] {
    try {
      net::Listener ln = net::listen(":" + port);
      FAIL_CHECK("listen(\":" << port << "\") succeeded on " << ln.address());
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::address_in_use);
      CHECK(contains(e.what(), "listen :" + port));
    }
    net::listen("127.0.0.1:" + port).close();  // naming IPv4 still works: that port is free there
  });
  ::close(other);
}

TEST_CASE("malformed addresses are rejected, saying what is wrong") {
  goro::run([] {
    const std::pair<std::string, const char*> cases[] = {
        {"no-port", "missing port"},
        {"[::1]", "missing port"},
        {"[::1]80", "expected ':' and a port after ']'"},
        {"[::1", "missing ']'"},
        {"[::1]]:80", "expected ':' and a port after ']'"},
        {"[[::1]]:80", "expected ':' and a port after ']'"},
        {"[a[b]:80", "unexpected '[' or ']'"},
        {"a]:80", "unexpected '[' or ']'"},
        {"[::1]:8:0", "the port must be a number"},
        {"::1:80", "brackets"},
        {std::string("127.0.0.1\0:80", 13), "NUL"},
    };
    for (const auto& [address, why] : cases) {
      for (const char* op : {"listen", "dial"}) {
        try {
          if (op == std::string("listen")) net::listen(address);
          else net::dial(address);
          FAIL_CHECK(std::string(op) << " accepted " << address);
        } catch (const std::system_error& e) {
          CHECK_MESSAGE(e.code() == std::errc::invalid_argument, std::string(op) << " " << address << ": " << std::string(e.what()));
          CHECK_MESSAGE(contains(e.what(), "bad address"), std::string(op) << " " << address << ": " << std::string(e.what()));
          CHECK_MESSAGE(contains(e.what(), why), std::string(op) << " " << address << ": " << std::string(e.what()));
        }
      }
    }
    // Still accepted: an empty host in brackets (every interface, as Go), and a zone.
    net::listen("[]:0").close();
  });
}

// A goroutine parked on a socket relies on some worker to poll for it. When the only worker
// that would (its own) entered blocking(), and the monitor handed that P on with no work on it,
// the P went to the idle list and nobody polled any more: every P idle, the monitor asleep until
// one got busy, the goroutine's data in epoll unread until the blocking() call returned (here:
// never, as the call waits for that goroutine). Go's handoffp wakes a worker to poll then.
TEST_CASE("a goroutine waiting on a socket is woken while main sits in blocking()") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      net::Listener ln = net::listen("127.0.0.1:0");
      auto [conn, peer] = dial_accept(ln);
      ln.close();
      std::atomic<bool> got{false};
      goro::go([conn, &got] {
        char buf[2];
        try {
          got = conn.read(std::span<char>(buf)) > 0;
        } catch (const std::system_error&) {
        }
      });
      REQUIRE(wait_parked("IO wait"));
      const auto retakes = goro::stats().retakes;
      const bool read = goro::blocking([&] {
        // Until the monitor has taken our P and put it in the idle list with the others.
        const auto give_up = std::chrono::steady_clock::now() + 20s;
        while ((goro::stats().retakes == retakes || goro::stats().idle_procs != goro::stats().procs) &&
               std::chrono::steady_clock::now() < give_up)
          std::this_thread::sleep_for(1ms);
        peer.write(std::string_view("hi"));
        while (!got && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
        return got.load();
      });
      CHECK(read);
      conn.close();
      peer.close();
    });
  });
}

// epoll_pwait2 came with Linux 5.11, and container runtimes' seccomp profiles older than it
// refuse it too (EPERM). The poller used it for every poll, blocking or not, and called its
// ENOSYS a fatal error: on such a system the first timer or socket wait aborted the program.
// The child refuses the call as such a kernel would (a seccomp filter), then sleeps, waits on a
// socket and times out a read.
GORO_CHILD("no epoll_pwait2") {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_epoll_pwait2, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(std::size(filter)), filter};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
    return 10;  // (no doctest assertions in a child process)
  return goro::run([]() -> int {
    goro::sleep_for(2ms);
    net::Listener ln = net::listen("127.0.0.1:0");
    auto [conn, peer] = dial_accept(ln);
    goro::go([peer] { goro::sleep_for(2ms); peer.write(std::string_view("hi")); });
    char buf[2];
    std::size_t got = 0;
    while (got < 2)
      if (std::size_t n = conn.read(std::span<char>(buf + got, 2 - got))) got += n;
      else return 2;
    conn.set_read_deadline(std::chrono::steady_clock::now() + 2ms);
    try {
      conn.read(std::span<char>(buf));
      return 3;
    } catch (const net::timeout_error&) {
    }
    return 0;
  });
}

TEST_CASE("the poller works where epoll_pwait2 is missing (Linux before 5.11)") {
  CHECK_CHILD_SUCCEEDS("no epoll_pwait2");
}

// Holds a plain thread in a SIGUSR1 handler while it sleeps on a socket, so that a test can act
// between the thread's wake-up and its next step. The signal must find it asleep in its socket
// Waiter's futex (a word on its own stack), not inside a goro call that holds the runtime off (an
// external op): run() would wait for it, and it for the test.
class SocketSleeper {
 public:
  SocketSleeper() {
    held_ = 0;
    struct sigaction hold{};
    hold.sa_handler = [](int) {
      held_.store(1);
      while (held_.load() != 2) {
      }
    };
    REQUIRE(::sigaction(SIGUSR1, &hold, &old_) == 0);
  }
  ~SocketSleeper() { ::sigaction(SIGUSR1, &old_, nullptr); }
  SocketSleeper(const SocketSleeper&) = delete;
  SocketSleeper& operator=(const SocketSleeper&) = delete;

  // First thing in the thread to hold.
  void enter() {
    char here;
    stack_top_ = reinterpret_cast<std::uintptr_t>(&here);
    tid_ = static_cast<pid_t>(::syscall(SYS_gettid));
  }
  // From a goroutine: waits until the thread sleeps on its socket, then holds it there.
  bool hold(std::thread& t) {
    if (!eventually([&] { return tid_ != 0 && asleep(); })) return false;
    ::pthread_kill(t.native_handle(), SIGUSR1);
    return eventually([] { return held_.load() == 1; });
  }
  void release() { held_ = 2; }

  // Whether the thread sleeps on a futex word of its own stack (a Waiter's).
  bool asleep() const {
    std::ifstream f("/proc/self/task/" + std::to_string(tid_.load()) + "/syscall");
    long nr = 0;
    std::string word, op;
    if (!(f >> nr >> word >> op) || nr != SYS_futex || op != "0x80") return false;  // FUTEX_WAIT_PRIVATE
    const std::uintptr_t at = std::stoull(word, nullptr, 16);
    return at < stack_top_ && at > stack_top_ - (1 << 20);
  }

 private:

  static inline std::atomic<int> held_{0};  // 1: in the handler; 2: let go
  struct sigaction old_{};
  std::atomic<pid_t> tid_{0};
  std::atomic<std::uintptr_t> stack_top_{0};
};

// A plain thread blocked on a socket when its runtime stops is woken by the stop, and leaves the
// poller's count of waiters on its way out. The next run's start reset the count to 0: a thread
// that left after that made it -1, and from then on the count read 0 while a goroutine waited
// on a socket, so no idle worker polled for it (nor did deadlock detection see it).
TEST_CASE("a plain thread leaving a socket wait of the last run keeps the next run's count right") {
  SocketSleeper sleeper;
  std::thread reader;
  goro::run([&] {
    net::Listener ln = net::listen("127.0.0.1:0");
    auto [conn, peer] = dial_accept(ln);
    reader = std::thread([conn, &sleeper] {
      sleeper.enter();
      char buf[1];
      try {
        conn.read(std::span<char>(buf));
      } catch (const std::exception&) {
      }
    });
    REQUIRE(sleeper.hold(reader));
  });  // closes the connection and wakes the reader, which is still in the handler
  goro::run([&] {
    sleeper.release();
    goro::blocking([&] { reader.join(); });
    CHECK(goro::rt::poller.waiters() == 0);
  });
}

// A plain thread woken on a socket (its data came) goes on to read once it gets to run again. If
// its run stopped meanwhile — closing the descriptor — and the next run started, it was let in
// by that run and read the descriptor's number, now another socket's: here it read a connection
// of the next run. It must see that its socket belongs to a stopped run, as a new call does.
TEST_CASE("a plain thread woken just before its run stops touches none of the next run's sockets") {
  SocketSleeper sleeper;
  std::thread reader;
  std::string outcome;
  goro::run([&] {
    net::Listener ln = net::listen("127.0.0.1:0");
    auto [conn, peer] = dial_accept(ln);
    reader = std::thread([conn, &outcome, &sleeper] {
      sleeper.enter();
      char buf[8];
      try {
        outcome = std::string(buf, conn.read(std::span<char>(buf)));
      } catch (const std::exception& e) {
        outcome = e.what();
      }
    });
    REQUIRE(sleeper.hold(reader));
    peer.write(std::string_view("hi"));
    const std::int64_t wrote = std::chrono::steady_clock::now().time_since_epoch().count();
    REQUIRE(eventually([&] { return goro::rt::poller.last_poll() > wrote; }));  // the reader is woken
  });  // closes every socket; the reader has not read yet
  goro::run([&] {
    // New sockets take the old numbers, each with data to read.
    net::Listener ln = net::listen("127.0.0.1:0");
    std::vector<std::pair<net::Conn, net::Conn>> pairs;
    for (int i = 0; i < 4; ++i) {
      pairs.push_back(dial_accept(ln));
      pairs.back().first.write(std::string_view("XY"));
      pairs.back().second.write(std::string_view("XY"));
    }
    sleeper.release();
    goro::blocking([&] { reader.join(); });
    CHECK_MESSAGE(contains(outcome, "closed network connection"), outcome);
  });
}

// Reads on one socket take turns. A goroutine blocked in read() holds the read turn; if the run
// stops then, it is abandoned there and never gives the turn back. A plain thread waiting for
// that turn (a second reader) waited for ever, instead of throwing "use of a closed network
// connection" as every other socket call of a plain thread does when its run stops.
TEST_CASE("a plain thread waiting for its turn on a socket is let go when the run stops") {
  SocketSleeper sleeper;
  auto outcome = std::make_shared<std::atomic<int>>(0);  // 1: the expected error; 2: other
  auto what = std::make_shared<std::string>();            // the other outcome
  std::thread reader;
  // The peer stays open until the run has stopped: closed as main returns, it would wake the
  // goroutine with an end of stream, and the turn would pass on before the run stops.
  std::optional<net::Conn> peer_kept;
  goro::run([&] {
    net::Listener ln = net::listen("127.0.0.1:0");
    auto [conn, peer] = dial_accept(ln);
    peer_kept = peer;
    goro::go([conn] {
      char buf[1];
      try {
        conn.read(std::span<char>(buf));  // holds the read turn until the run abandons it
      } catch (const std::system_error&) {
      }
    });
    REQUIRE(wait_parked("IO wait"));
    reader = std::thread([conn, &sleeper, outcome, what] {
      sleeper.enter();
      char buf[1];
      try {
        *what = "read returned " + std::to_string(conn.read(std::span<char>(buf)));
        *outcome = 2;
      } catch (const std::system_error& e) {
        *what = e.what();
        *outcome = contains(e.what(), "closed network connection") ? 1 : 2;
      }
    });
    REQUIRE(eventually([&] { return sleeper.asleep(); }));  // waits for its turn
  });
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (*outcome == 0 && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  if (*outcome == 0) {
    reader.detach();  // (it touches nothing of ours any more)
    FAIL("the plain thread is still waiting for its turn");
  }
  reader.join();
  CHECK_MESSAGE(outcome->load() == 1, *what);
}

// Out of descriptors, dial and listen failed with "goro: socket: Too many open files": neither
// which call nor what to do. They now say so as accept does.
GORO_CHILD("emfile dial") {
  rlimit lim{256, 256};
  ::setrlimit(RLIMIT_NOFILE, &lim);
  return goro::run([]() -> int {
    net::Listener ln = net::listen("127.0.0.1:0");
    std::vector<int> hogs;  // use up every remaining descriptor
    for (int fd; (fd = ::dup(0)) >= 0;) hogs.push_back(fd);
    int result = 0;
    for (const char* op : {"dial", "listen"}) {
      try {
        if (op == std::string("dial")) net::dial(ln.address());
        else net::listen("127.0.0.1:0");
        result = 2;
      } catch (const std::system_error& e) {
        const std::string what = e.what();  // (no doctest assertions in a child process)
        std::fprintf(stderr, "%s\n", what.c_str());
        if (e.code() != std::errc::too_many_files_open) result = 3;
        else if (what.find(std::string("goro: ") + op + " ") != 0 || what.find("RLIMIT_NOFILE") == std::string::npos)
          result = 4;
      }
    }
    for (int fd : hogs) ::close(fd);
    return result;
  });
}

TEST_CASE("EMFILE: dial and listen say which call ran out of descriptors and what to do") {
  CHECK_CHILD_SUCCEEDS("emfile dial");
}
