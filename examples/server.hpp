// examples/server.hpp — what the example servers share: an accept loop that runs a goroutine
// per connection, and a clean stop on SIGINT or SIGTERM.
//
// The stop: SIGINT and SIGTERM are blocked in every thread (block_stop_signals, called before
// goro::run so that its worker threads inherit the mask); a plain thread waits for them with
// sigwait and closes the listener, which wakes the blocked accept(); the accept loop returns and
// so does goro::run. Connections still open are abandoned with their goroutines, and closed.
#pragma once

#include <goro/goro.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <system_error>
#include <thread>

namespace example {

inline sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Listens on addr, prints "LISTENING host:port", and runs handle(conn) in a goroutine per
// accepted connection until one of stop_signals arrives. Call it in a goroutine.
inline void serve(const std::string& addr, void (*handle)(goro::net::Conn), sigset_t stop_signals) {
  goro::net::Listener listener = goro::net::listen(addr);
  std::printf("LISTENING %s\n", listener.address().c_str());
  std::fflush(stdout);

  std::atomic<bool> stopping{false};
  std::thread stopper([&] {
    int sig;
    sigwait(&stop_signals, &sig);
    stopping = true;
    listener.close();  // wakes the accept() below, which throws
  });
  // After a failed accept (e.g. out of file descriptors), wait 5 ms, doubling up to 1 s while
  // it keeps failing (as Go's http.Server backs off), and say so once per failing spell.
  using namespace std::chrono_literals;
  std::chrono::milliseconds backoff{0};
  for (;;) {
    goro::net::Conn conn;
    try {
      conn = listener.accept();
    } catch (const std::system_error& e) {
      if (stopping) break;
      if (backoff.count() == 0) std::fprintf(stderr, "accept: %s; retrying\n", e.what());
      backoff = backoff.count() == 0 ? 5ms : std::min<std::chrono::milliseconds>(backoff * 2, 1s);
      goro::sleep_for(backoff);
      continue;
    }
    backoff = 0ms;
    goro::go(handle, conn);
  }
  goro::blocking([&] { stopper.join(); });
}

// main() of a server program: `NAME [--addr HOST:PORT]` (default 127.0.0.1:7000; port 0 picks
// a free one). Exits 0 after a stop signal, 1 if it cannot serve (e.g. the address is in use).
inline int server_main(int argc, char** argv, void (*handle)(goro::net::Conn)) {
  std::string addr = "127.0.0.1:7000";
  if (argc == 3 && std::strcmp(argv[1], "--addr") == 0) addr = argv[2];
  else if (argc != 1) return std::fprintf(stderr, "usage: %s [--addr HOST:PORT]\n", argv[0]), 2;
  const sigset_t stop_signals = block_stop_signals();
  try {
    goro::run([&] { serve(addr, handle, stop_signals); });
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
}

}  // namespace example
