// goro_conn100k: what a TCP server's memory costs per open connection, with 100,000 of them.
//
// Usage: goro_conn100k --server NAME [--conns N] [--seconds S] -- SERVER-COMMAND...
//   goro_conn100k --server goro -- build/bench/bench/goro/goro_bench echo-server --addr 127.0.0.1:0
//   goro_conn100k --server go   -- build/bench/go_bench echo-server --addr 127.0.0.1:0
//
// 1. Raises RLIMIT_NOFILE (soft and, if need be, hard: root with CAP_SYS_RESOURCE) to N + 256,
//    for itself and for the server, which it starts as a child with that limit (SERVER-COMMAND
//    must print "LISTENING host:port"). If the limit cannot be raised it exits 4, saying on
//    stderr how many connections this machine allows.
// 2. Once the server listens, reads its VmRSS from /proc/<pid>/status: the baseline.
// 3. Opens N connections (default 100,000) from 127.0.0.2 … 127.0.0.17 in turn (one source
//    address has only ~28k ephemeral ports), 200 dialers at a time; sends a 64-byte message on
//    each and checks its echo; keeps every connection open.
// 4. With all N open, reads the server's VmHWM (peak RSS) and prints
//      RESULT conn100k server=NAME conns=N peak_rss_kb=<VmHWM> base_rss_kb=<baseline>
//             bytes_per_conn=<(VmHWM - baseline) * 1024 / N>
// 5. SIGTERMs the server, which must exit 0 within 5 s (it closes first, so the client's ports
//    are not left in TIME_WAIT for the next run).
// Exits 1 with a message on stderr if anything else fails or does not finish within --seconds
// (default 60); exits 3, printing nothing, if the server exits 3 before listening (a program
// that has no echo server), as the workloads of goro_bench do.
#include <goro/goro.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

using Clock = std::chrono::steady_clock;

namespace {

constexpr int kSourceAddresses = 16;  // 127.0.0.2 … 127.0.0.17
constexpr long kDialers = 200;        // connections being opened at once
constexpr std::size_t kMsgSize = 64;
constexpr rlim_t kSpareFds = 256;     // descriptors beyond the connections (runtime, stdio, ...)

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const char* fmt, auto... args) {
  char msg[512];
  std::snprintf(msg, sizeof msg, fmt, args...);
  throw Failure(msg);
}

// A field of /proc/<pid>/status in KiB ("VmRSS", "VmHWM"); -1 if unreadable.
long status_kib(pid_t pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field + ":", 0) == 0) return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
  return -1;
}

// The machine's limits do not allow the run (exit 4, see the top of this file).
struct Unfit : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Sets RLIMIT_NOFILE (soft and hard) to n, for this process and the server it starts.
void raise_nofile(rlim_t n) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max >= n) rl = {n, rl.rlim_max};  // no privilege needed
  else rl = {n, n};
  if (setrlimit(RLIMIT_NOFILE, &rl) == 0) return;
  const int err = errno;
  getrlimit(RLIMIT_NOFILE, &rl);
  std::fprintf(stderr, "conn100k: setrlimit(RLIMIT_NOFILE, %lu): %s; this machine allows at most --conns %lu\n",
               static_cast<unsigned long>(n), std::strerror(err),
               static_cast<unsigned long>(rl.rlim_max > kSpareFds ? rl.rlim_max - kSpareFds : 0));
  char msg[256];
  std::snprintf(msg, sizeof msg, "RLIMIT_NOFILE hard limit %lu < %lu needed (raising it needs CAP_SYS_RESOURCE)",
                static_cast<unsigned long>(rl.rlim_max), static_cast<unsigned long>(n));
  throw Unfit(msg);
}

struct Server {
  pid_t pid = -1;
  int out = -1;  // its stdout
  std::string addr;
};

// Starts the server (inheriting this process's RLIMIT_NOFILE) and waits up to 10 s for its
// LISTENING line. Returns false if it exited 3 first (not supported).
bool start_server(char** argv, Server& s) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) fail("pipe: %s", std::strerror(errno));
  s.pid = fork();
  if (s.pid < 0) fail("fork: %s", std::strerror(errno));
  if (s.pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    execvp(argv[0], argv);
    std::fprintf(stderr, "conn100k: cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  s.out = fds[0];
  std::string text;
  const auto give_up = Clock::now() + std::chrono::seconds(10);
  while (text.find('\n') == std::string::npos) {
    pollfd p{s.out, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - Clock::now());
    if (left.count() <= 0) fail("%s printed no line within 10 s", argv[0]);
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[256];
    const ssize_t n = read(s.out, buf, sizeof buf);
    if (n > 0) {
      text.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    int status = 0;  // EOF: it exited
    waitpid(s.pid, &status, 0);
    s.pid = -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3) return false;
    if (WIFSIGNALED(status)) fail("%s was killed by signal %d before listening", argv[0], WTERMSIG(status));
    fail("%s exited with status %d before listening", argv[0], WEXITSTATUS(status));
  }
  const std::string line = text.substr(0, text.find('\n'));
  if (line.rfind("LISTENING ", 0) != 0) fail("%s printed '%s', not LISTENING host:port", argv[0], line.c_str());
  s.addr = line.substr(10);
  return true;
}

// SIGTERM, then waits up to 5 s: true if the server exited 0 (or by SIGTERM, as a Go program
// without a handler would).
bool stop_server(Server& s, int& status) {
  kill(s.pid, SIGTERM);
  for (int i = 0; i < 500; ++i) {
    if (waitpid(s.pid, &status, WNOHANG) == s.pid) {
      s.pid = -1;
      return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
             (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    }
    usleep(10000);
  }
  return false;
}

// Opens `n` connections to addr, exchanges one message on each, keeps them all in `conns`.
void open_all(const std::string& addr, long n, Clock::time_point deadline,
              std::vector<goro::net::Conn>& conns) {
  conns.resize(n);
  auto [ctx, cancel] = goro::with_deadline(goro::background(), deadline);
  std::atomic<long> opened{0};
  std::mutex mu;
  std::string error;  // the first failure
  goro::WaitGroup wg;
  wg.add(kDialers);
  for (long w = 0; w < kDialers; ++w)
    goro::go([&, w, ctx = ctx] {
      char msg[kMsgSize], echo[kMsgSize];
      std::memset(msg, 'x', sizeof msg);
      for (long i = w; i < n; i += kDialers) {
        {
          std::lock_guard lock(mu);
          if (!error.empty()) break;
        }
        goro::net::DialOptions options;
        options.context = ctx;
        options.local_address = "127.0.0.";
        options.local_address += std::to_string(2 + i % kSourceAddresses) + ":0";
        try {
          goro::net::Conn conn = goro::net::dial(addr, options);
          conn.set_deadline(deadline);
          std::memcpy(msg, &i, sizeof i);
          conn.write(std::string_view(msg, sizeof msg));
          for (std::size_t got = 0; got < sizeof echo;) {
            const std::size_t k = conn.read(std::span(echo + got, sizeof echo - got));
            if (k == 0) throw std::runtime_error("the server closed the connection");
            got += k;
          }
          if (std::memcmp(msg, echo, sizeof msg) != 0) throw std::runtime_error("wrong echo");
          conn.set_deadline({});
          conns[i] = conn;
          opened.fetch_add(1, std::memory_order_relaxed);
        } catch (const std::exception& e) {
          std::lock_guard lock(mu);
          if (error.empty())
            error = "connection " + std::to_string(i) + " from " + options.local_address + ": " + e.what();
          break;
        }
      }
      wg.done();
    });
  wg.wait();
  cancel();
  if (!error.empty())
    fail("%s (%ld of %ld connections open%s)", error.c_str(), opened.load(), n,
         Clock::now() >= deadline ? "; gave up at the deadline" : "");
}

}  // namespace

int main(int argc, char** argv) {
  std::string name;
  long n = 100000;
  double seconds = 60;
  int i = 1;
  for (; i < argc && std::strcmp(argv[i], "--") != 0; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) break;
    if (a == "--server") name = argv[++i];
    else if (a == "--conns") n = std::strtol(argv[++i], nullptr, 10);
    else if (a == "--seconds") seconds = std::strtod(argv[++i], nullptr);
    else break;
  }
  if (i >= argc || std::strcmp(argv[i], "--") != 0 || i + 1 >= argc || name.empty() || n < 1 || seconds <= 0) {
    std::fprintf(stderr,
                 "usage: %s --server NAME [--conns N] [--seconds S] -- SERVER-COMMAND...\n", argv[0]);
    return 2;
  }
  char** server_argv = argv + i + 1;
  Server server;
  try {
    raise_nofile(static_cast<rlim_t>(n) + kSpareFds);
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    if (!start_server(server_argv, server)) return 3;  // not supported
    usleep(100000);  // let it settle (runtime threads, the accept loop) before the baseline
    const long base = status_kib(server.pid, "VmRSS");
    if (base < 0) fail("cannot read /proc/%d/status", server.pid);

    long peak = -1, rss = -1;
    double open_s = 0;
    goro::run([&] {  // (connections still open when run returns would be closed by it)
      std::vector<goro::net::Conn> conns;
      open_all(server.addr, n, deadline, conns);
      open_s = std::chrono::duration<double>(Clock::now() - start).count();
      peak = status_kib(server.pid, "VmHWM");
      rss = status_kib(server.pid, "VmRSS");
      if (peak < 0) fail("cannot read /proc/%d/status", server.pid);
      int status = 0;
      const bool clean = goro::blocking([&] { return stop_server(server, status); });
      conns.clear();  // the server closed first; now our side
      if (!clean) {
        if (server.pid > 0) fail("the server is still running 5 s after SIGTERM");
        fail("the server ended with wait status %#x after SIGTERM", status);
      }
    });
    std::fprintf(stderr, "conn100k: %s: %ld connections open and echoed in %.1f s; server RSS %ld KiB\n",
                 name.c_str(), n, open_s, rss);
    std::printf("RESULT conn100k server=%s conns=%ld peak_rss_kb=%ld base_rss_kb=%ld bytes_per_conn=%.1f\n",
                name.c_str(), n, peak, base, static_cast<double>(peak - base) * 1024 / static_cast<double>(n));
    std::fflush(stdout);
    return 0;
  } catch (const Unfit& e) {
    std::fprintf(stderr, "this machine cannot run it: %s\n", e.what());  // the note tools/bench shows
    return 4;
  } catch (const std::exception& e) {
    if (server.pid > 0) {
      kill(server.pid, SIGKILL);
      waitpid(server.pid, nullptr, 0);
    }
    std::fprintf(stderr, "FAIL: conn100k: %s\n", e.what());
    return 1;
  }
}
