// goro's own benchmark program: the workloads of /work/shared/BENCH.md, written against goro's
// public API exactly as its peers write them (Go: bench/go/*.go, Boost.Fiber:
// bench/boostfiber/bench.cpp), doing the same work.
//
// Usage: goro_bench <workload> [--procs N] [--n N] [--addr HOST:PORT] [--conns N] [--seconds S]
//                   [--warmup N]
//   workloads: spawn skynet pingpong chan_mpmc select yield fib mutex sleep idle_mem
//              echo-server echo-client ready_latency (unknown workloads exit with status 3 and
//              no output; the http workload's server is examples/http_server)
// --procs N sets goro::Config::procs (absent or 0: goro's default, every PU of the process's CPU
// set); --n is the number of goroutines of idle_mem (default 100000); --warmup N runs fib(27) N
// times untimed before the timed run (tools/bench does not: BENCH.md times a cold run; this
// shows what the first run's new stacks cost, see README).
// echo-server --addr A (default 127.0.0.1:0): goroutine-per-connection TCP echo; prints
//   "LISTENING host:port" once listening, exits 0 on SIGINT/SIGTERM (like bench/go/servers.go).
// echo-client --addr A --conns N --seconds S (default 100 connections, 5 s): the load generator
//   of the echo workload, for goro's server and its peers alike. Each connection sends a 64-byte
//   message and waits for its whole echo before sending the next; prints
//   RESULT echo msgs_per_s=<echoes per second, all connections> p99_us=<round trip> ...
//
// tools/bench (tools/benchlib/runner.py) runs `goro_bench <workload> <args>` once per case and
// repetition, side by side with the peers, and reads the single line it prints:
//   RESULT <workload> <metric>=<value> ...
// Each workload checks its own result and exits 1 with a message on stderr when it is wrong.
// Only the work is timed (steady_clock), inside goro::run; peak RSS is getrusage's ru_maxrss.
#include <goro/goro.hpp>

#include "server.hpp"  // examples/: the accept loop of echo-server

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Common helpers
// ---------------------------------------------------------------------------------------------

struct Options {
  unsigned procs = 0;
  long n = 100000;
  std::string addr = "127.0.0.1:0";  // echo-server, echo-client
  long conns = 100;                  // echo-client
  double seconds = 5;                // echo-client
  long warmup = 0;                   // fib
};

// A wrong result: thrown out of the workload (goroutine 1), rethrown by goro::run, reported by
// main with exit status 1.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const char* fmt, auto... args) {
  char msg[256];
  std::snprintf(msg, sizeof msg, fmt, args...);
  throw Failure(msg);
}

double ns_since(Clock::time_point start) {
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count();
}

long peak_rss_kib() {  // getrusage ru_maxrss is in KiB on Linux
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// ---------------------------------------------------------------------------------------------
// Workloads (each runs as goroutine 1, inside goro::run)
// ---------------------------------------------------------------------------------------------

// spawn: 1,000,000 goroutines that each only call WaitGroup::done; ns per goroutine.
void bench_spawn(const Options&) {
  constexpr long n = 1000000;
  goro::WaitGroup wg;
  auto start = Clock::now();
  wg.add(n);
  for (long i = 0; i < n; ++i) goro::go([&wg] { wg.done(); });
  wg.wait();
  std::printf("RESULT spawn ns_per_op=%.3f\n", ns_since(start) / n);
}

// skynet: 1,000,000 leaves, 10-ary tree; each inner node makes a channel of capacity 10,
// spawns 10 children that send their sum, receives 10 values, sends the sum up.
// Result 499999500000; ms.
void skynet(goro::chan<long> out, long num, long size, long div) {
  if (size == 1) {
    out.send(num);
    return;
  }
  goro::chan<long> rc(div);
  long sub = size / div;
  for (long i = 0; i < div; ++i) goro::go(skynet, rc, num + i * sub, sub, div);
  long sum = 0;
  for (long i = 0; i < div; ++i) sum += *rc.recv();
  out.send(sum);
}

void bench_skynet(const Options&) {
  auto start = Clock::now();
  goro::chan<long> c;
  goro::go(skynet, c, 0L, 1000000L, 10L);
  long sum = *c.recv();
  double ms = ns_since(start) / 1e6;
  if (sum != 499999500000L) fail("skynet sum %ld, want 499999500000", sum);
  std::printf("RESULT skynet ms=%.3f\n", ms);
}

// pingpong: goroutine 1 and one spawned goroutine bounce an int over two unbuffered channels,
// 1,000,000 round trips; ns per round trip.
void bench_pingpong(const Options&) {
  constexpr long rounds = 1000000;
  goro::chan<long> ping, pong;
  goro::go([ping, pong]() mutable {
    for (long v : ping) pong.send(v + 1);
  });
  auto start = Clock::now();
  long v = 0;
  for (long i = 0; i < rounds; ++i) {
    ping.send(v);
    v = *pong.recv();
  }
  double ns = ns_since(start) / rounds;
  ping.close();
  if (v != rounds) fail("pingpong value %ld, want %ld", v, rounds);
  std::printf("RESULT pingpong ns_per_op=%.3f\n", ns);
}

// chan_mpmc: 4 producers (1,000,000 ints each) and 4 consumers share one channel of capacity
// 128; ns per message. Checks count and sum of the received values.
void bench_chan_mpmc(const Options&) {
  constexpr long producers = 4, consumers = 4, total = 4000000, per = total / producers;
  goro::chan<long> ch(128);
  struct alignas(64) Tally {  // each consumer's counters on their own cache line
    long sum = 0, count = 0;
  };
  std::vector<Tally> tallies(consumers);
  goro::WaitGroup prod_wg, cons_wg;
  auto start = Clock::now();
  prod_wg.add(producers);
  for (long p = 0; p < producers; ++p)
    goro::go([&prod_wg, ch, p]() mutable {
      for (long i = p * per; i < (p + 1) * per; ++i) ch.send(i);
      prod_wg.done();
    });
  cons_wg.add(consumers);
  for (long c = 0; c < consumers; ++c)
    goro::go([&cons_wg, &tallies, ch, c]() mutable {
      long sum = 0, count = 0;
      for (long v : ch) {
        sum += v;
        ++count;
      }
      tallies[c] = {sum, count};
      cons_wg.done();
    });
  prod_wg.wait();
  ch.close();
  cons_wg.wait();
  double ns = ns_since(start) / total;
  long sum = 0, count = 0;
  for (auto& t : tallies) sum += t.sum, count += t.count;
  if (sum != total * (total - 1) / 2 || count != total)
    fail("chan_mpmc received %ld values summing to %ld, want %ld summing to %ld", count, sum,
         total, total * (total - 1) / 2);
  std::printf("RESULT chan_mpmc ns_per_op=%.3f\n", ns);
}

// select: 4 producers each feed their own channel (capacity 16) 500,000 ints; goroutine 1
// selects over the 4 channels until 2,000,000 values are received; ns per message. Checks the
// sum of the received values.
void bench_select(const Options&) {
  constexpr long producers = 4, per = 500000, total = producers * per;
  std::vector<goro::chan<long>> chs;
  for (long p = 0; p < producers; ++p) chs.emplace_back(16);
  auto start = Clock::now();
  for (long p = 0; p < producers; ++p)
    goro::go([ch = chs[p], base = p * per]() mutable {
      for (long i = 0; i < per; ++i) ch.send(base + i);
    });
  long sum = 0, count = 0;
  while (count < total) {
    long v = 0;
    auto take = [&v](std::optional<long> got) { v = *got; };
    goro::select(goro::on_recv(chs[0], take), goro::on_recv(chs[1], take),
                 goro::on_recv(chs[2], take), goro::on_recv(chs[3], take));
    sum += v;
    ++count;
  }
  double ns = ns_since(start) / total;
  if (sum != total * (total - 1) / 2)
    fail("select received values summing to %ld, want %ld", sum, total * (total - 1) / 2);
  std::printf("RESULT select ns_per_op=%.3f\n", ns);
}

// yield: 1,000 goroutines each call goro::yield 1,000 times; ns per yield.
void bench_yield(const Options&) {
  constexpr long goroutines = 1000, yields = 1000;
  goro::WaitGroup wg;
  auto start = Clock::now();
  wg.add(goroutines);
  for (long g = 0; g < goroutines; ++g)
    goro::go([&wg] {
      for (long i = 0; i < yields; ++i) goro::yield();
      wg.done();
    });
  wg.wait();
  std::printf("RESULT yield ns_per_op=%.3f\n", ns_since(start) / (goroutines * yields));
}

// ready_latency (goro only; tools/bench does not run it): goroutine 1 sends to a goroutine
// parked on an unbuffered channel 30 times, computing 30 ms after each send without a
// scheduling point, so the receiver waits in goroutine 1's P's runnext until another P takes it
// (idle.cpp). Prints the median and the worst wait in ms; run it with --procs 2.
void bench_ready_latency(const Options&) {
  constexpr int sends = 30;
  goro::chan<Clock::time_point> ch;
  std::vector<double> waits;
  goro::WaitGroup wg;
  wg.add(1);
  goro::go([&] {
    for (int i = 0; i < sends; ++i) waits.push_back(ns_since(*ch.recv()) / 1e6);
    wg.done();
  });
  for (int i = 0; i < sends; ++i) {
    ch.send(Clock::now());
    const auto until = Clock::now() + std::chrono::milliseconds(30);
    while (Clock::now() < until) {
    }
  }
  wg.wait();
  std::sort(waits.begin(), waits.end());
  std::printf("RESULT ready_latency median_ms=%.3f max_ms=%.3f\n", waits[sends / 2], waits.back());
}

// fib: fork-join fib(27): fib(n<2) = n, else spawn fib(n-1) into a channel of capacity 1,
// compute fib(n-2), receive and add. Result 196418; ms.
long fib(long n) {
  if (n < 2) return n;
  goro::chan<long> c(1);
  goro::go([c, n]() mutable { c.send(fib(n - 1)); });
  long y = fib(n - 2);
  return *c.recv() + y;
}

void bench_fib(const Options& o) {
  for (long i = 0; i < o.warmup; ++i) fib(27);  // untimed: leaves stacks and caches warm
  auto start = Clock::now();
  long v = fib(27);
  double ms = ns_since(start) / 1e6;
  if (v != 196418) fail("fib(27) = %ld, want 196418", v);
  std::printf("RESULT fib ms=%.3f\n", ms);
}

// mutex: 100 goroutines each do 10,000 lock / increment / unlock on one goro::Mutex;
// ns per lock+unlock. Counter must be 1,000,000.
void bench_mutex(const Options&) {
  constexpr long goroutines = 100, iters = 10000;
  goro::Mutex mu;
  long counter = 0;
  goro::WaitGroup wg;
  auto start = Clock::now();
  wg.add(goroutines);
  for (long g = 0; g < goroutines; ++g)
    goro::go([&] {
      for (long i = 0; i < iters; ++i) {
        std::lock_guard lock(mu);
        ++counter;
      }
      wg.done();
    });
  wg.wait();
  double ns = ns_since(start) / (goroutines * iters);
  if (counter != goroutines * iters) fail("mutex counter %ld, want %ld", counter, goroutines * iters);
  std::printf("RESULT mutex ns_per_op=%.3f\n", ns);
}

// sleep: 100,000 goroutines each sleep a uniform 1..100 ms (fixed seed), then done;
// wall ms (ideal 100) and peak RSS in KiB. No goroutine may wake early: the wall time is at
// least the longest sleep.
void bench_sleep(const Options&) {
  constexpr long n = 100000;
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> dist(1, 100);
  std::vector<std::chrono::milliseconds> durations(n);
  for (auto& d : durations) d = std::chrono::milliseconds(dist(rng));
  goro::WaitGroup wg;
  auto start = Clock::now();
  wg.add(n);
  for (auto d : durations)
    goro::go([&wg, d] {
      goro::sleep_for(d);
      wg.done();
    });
  wg.wait();
  double ms = ns_since(start) / 1e6;
  if (ms < 100) fail("sleep took %.3f ms, less than its longest sleep (100 ms)", ms);
  std::printf("RESULT sleep wall_ms=%.3f peak_rss_kb=%ld\n", ms, peak_rss_kib());
}

// idle_mem: --n N goroutines block receiving on one unbuffered channel; once all have started
// the peak RSS is read, then the channel is closed and all goroutines exit. N=0 is the
// empty-run baseline; the harness computes (peak(N) - peak(0)) / N.
void bench_idle_mem(const Options& o) {
  long n = o.n;
  goro::chan<std::monostate> ch;
  goro::WaitGroup started, exited;
  started.add(n);
  exited.add(n);
  for (long i = 0; i < n; ++i)
    goro::go([&started, &exited, ch]() mutable {
      started.done();
      ch.recv();  // nullopt once ch is closed
      exited.done();
    });
  started.wait();
  long rss = peak_rss_kib();
  ch.close();
  exited.wait();
  std::printf("RESULT idle_mem peak_rss_kb=%ld peak_rss_bytes=%ld n=%ld\n", rss, rss * 1024, n);
}

// echo-server: goroutine-per-connection TCP echo (read into a 4 KiB buffer, write back what was
// read, until EOF), as bench/go/servers.go; the accept loop and the stop on SIGINT/SIGTERM are
// examples/server.hpp's.
void echo_conn(goro::net::Conn conn) {
  std::byte buf[4096];
  try {
    while (std::size_t n = conn.read(buf)) conn.write({buf, n});
  } catch (const std::system_error&) {  // reset by the client
  }
}

sigset_t echo_server_signals;  // blocked by main before goro::run: its worker threads inherit that

void bench_echo_server(const Options& o) { example::serve(o.addr, echo_conn, echo_server_signals); }

// echo-client: --conns goroutines, one connection each, all dialled before the clock starts.
// Each sends a 64-byte message (its connection and sequence number in the first bytes), reads
// until the 64 bytes are back, checks them, and records the round trip (steady_clock), until
// --seconds have passed. It reads into a 4 KiB buffer, as the servers do: a read that returns
// less than it asked for tells goro's socket that it is drained, so the next read waits for the
// poller instead of first failing with EAGAIN. (Asking for exactly 64 bytes cost a failed read
// per message, CPU taken from the server it shares the cores with.) Throughput: echoes of all
// connections / wall time; p99 over every round trip.
void bench_echo_client(const Options& o) {
  constexpr std::size_t msg_size = 64;
  const long conns = o.conns;
  if (conns < 1 || o.seconds <= 0) fail("echo-client needs --conns >= 1 and --seconds > 0");
  std::vector<goro::net::Conn> links(conns);
  for (long c = 0; c < conns; ++c) {
    try {
      links[c] = goro::net::dial(o.addr);
    } catch (const std::system_error& e) {
      fail("echo-client: dial %s (connection %ld): %s", o.addr.c_str(), c, e.what());
    }
  }
  std::vector<std::vector<std::uint32_t>> rtts(conns);  // round trips in ns, per connection
  for (auto& r : rtts) r.reserve(1 << 16);
  std::atomic<long> bad{-1};  // a connection whose echo was wrong
  goro::WaitGroup wg;
  const auto start = Clock::now();
  const auto stop = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  wg.add(conns);
  for (long c = 0; c < conns; ++c)
    goro::go([&, c] {
      const goro::net::Conn& conn = links[c];
      std::vector<std::uint32_t>& rtt = rtts[c];
      char msg[msg_size], echo[4096];
      for (std::size_t i = 0; i < msg_size; ++i) msg[i] = static_cast<char>('a' + i % 26);
      std::memcpy(msg, &c, sizeof c);
      try {
        for (std::uint64_t seq = 0;; ++seq) {
          std::memcpy(msg + sizeof c, &seq, sizeof seq);
          const auto sent = Clock::now();
          conn.write(std::string_view(msg, msg_size));
          std::size_t got = 0;
          while (got < msg_size) {
            std::size_t n = conn.read(std::span(echo + got, sizeof echo - got));
            if (n == 0) throw std::runtime_error("the server closed the connection");
            got += n;
          }
          const auto now = Clock::now();
          if (got != msg_size || std::memcmp(msg, echo, msg_size) != 0) {
            bad = c;
            break;
          }
          rtt.push_back(static_cast<std::uint32_t>(
              std::min<std::int64_t>(std::chrono::nanoseconds(now - sent).count(), UINT32_MAX)));
          if (now >= stop) break;
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "echo-client: connection %ld: %s\n", c, e.what());
        bad = c;
      }
      wg.done();
    });
  wg.wait();
  const double seconds = ns_since(start) / 1e9;
  for (auto& conn : links) conn.close();
  if (bad >= 0) fail("echo-client: connection %ld failed (wrong echo or error, see above)", bad.load());
  std::vector<std::uint32_t> all;
  for (auto& r : rtts) all.insert(all.end(), r.begin(), r.end());
  if (all.empty()) fail("echo-client: no echo in %.3f s", seconds);
  auto at = [&all](double q) {
    auto nth = all.begin() + static_cast<std::ptrdiff_t>(q * static_cast<double>(all.size() - 1));
    std::nth_element(all.begin(), nth, all.end());
    return *nth / 1e3;
  };
  const double p50 = at(0.50), p99 = at(0.99);
  std::printf("RESULT echo msgs_per_s=%.3f p99_us=%.3f p50_us=%.3f msgs=%zu conns=%ld\n",
              static_cast<double>(all.size()) / seconds, p99, p50, all.size(), conns);
}

// ---------------------------------------------------------------------------------------------

int main(int argc, char** argv) {
  static const std::map<std::string, void (*)(const Options&)> workloads = {
      {"spawn", bench_spawn},         {"skynet", bench_skynet}, {"pingpong", bench_pingpong},
      {"chan_mpmc", bench_chan_mpmc}, {"select", bench_select}, {"yield", bench_yield},
      {"fib", bench_fib},             {"mutex", bench_mutex},   {"sleep", bench_sleep},
      {"idle_mem", bench_idle_mem},   {"echo-server", bench_echo_server},
      {"echo-client", bench_echo_client}, {"ready_latency", bench_ready_latency},
  };
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s <workload> [--procs N] [--n N] [--addr HOST:PORT] [--conns N] "
                 "[--seconds S] [--warmup N]\n",
                 argv[0]);
    return 2;
  }
  // Unsupported here: unknown workloads (http-server is examples/http_server).
  auto it = workloads.find(argv[1]);
  if (it == workloads.end()) return 3;
  Options o;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& flag) -> const char* {
      if (a == flag && i + 1 < argc) return argv[++i];
      if (a.rfind(flag + "=", 0) == 0) return argv[i] + flag.size() + 1;
      return nullptr;
    };
    if (const char* v = value("--procs")) o.procs = std::strtoul(v, nullptr, 10);
    else if (const char* v = value("--n")) o.n = std::strtol(v, nullptr, 10);
    else if (const char* v = value("--addr")) o.addr = v;
    else if (const char* v = value("--conns")) o.conns = std::strtol(v, nullptr, 10);
    else if (const char* v = value("--seconds")) o.seconds = std::strtod(v, nullptr);
    else if (const char* v = value("--warmup")) o.warmup = std::strtol(v, nullptr, 10);
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (it->first == "echo-server") echo_server_signals = example::block_stop_signals();
  goro::Config config;
  config.procs = o.procs;
  try {
    goro::run(config, [&] { it->second(o); });
  } catch (const Failure& e) {
    std::fprintf(stderr, "FAIL: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FAIL: %s: %s\n", argv[1], e.what());
    return 1;
  }
  std::fflush(stdout);
  return 0;
}
