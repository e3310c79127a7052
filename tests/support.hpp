// tests/support.hpp — helpers shared by the suites.
#pragma once

#include <goro/runtime.hpp>
#include <goro/time.hpp>

#include <doctest/doctest.h>
#include <stdlib.h>

#include "os/sanitizers.hpp"  // GORO_ASAN, GORO_TSAN

#include <atomic>
#include <chrono>
#include <functional>
#include <initializer_list>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#define GORO_TEST_SANITIZED (GORO_ASAN || GORO_TSAN)

namespace goro_test {

// Stress sizes shrink under the sanitizers, which run 5-20x slower; the code paths do not.
constexpr long scaled(long n) { return GORO_TEST_SANITIZED ? n / 8 : n; }

// The worker counts every scheduling test runs at (races hide at some counts).
inline const std::initializer_list<unsigned> kProcs = {1, 2, 8};

// Runs body(config) in a fresh runtime for each worker count of `counts`.
template <class F>
void each_procs(std::initializer_list<unsigned> counts, F&& body) {
  for (unsigned procs : counts) {
    CAPTURE(procs);
    goro::Config config;
    config.procs = procs;
    body(config);
  }
}

// Runs body(config) in a fresh runtime for each worker count of kProcs.
template <class F>
void each_procs(F&& body) {
  each_procs(kProcs, body);
}

// A goroutine that counts its turns and yields until the Yielder goes: whether it advanced tells
// whether its P was free to run it. `each_turn` (if any) runs first on every turn. For tests at
// procs 1, where main's return abandons it before it can look at the Yielder again.
class Yielder {
 public:
  explicit Yielder(void (*each_turn)() = nullptr) {
    goro::go([this, each_turn] {
      while (!stop_) {
        if (each_turn) each_turn();
        ++turns_;
        goro::yield();
      }
    });
  }
  ~Yielder() { stop_ = true; }
  Yielder(const Yielder&) = delete;
  Yielder& operator=(const Yielder&) = delete;

  const std::atomic<long>& turns() const { return turns_; }

 private:
  std::atomic<long> turns_{0};
  std::atomic<bool> stop_{false};
};

// Whether `part` occurs in `s`.
inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Whether `s` begins with `prefix`.
inline bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// Waits until pred() holds, checking every `poll`; false after 20 s. For a point another
// goroutine or thread reaches in its own time: a fixed number of yields or a fixed sleep proves
// nothing on a loaded machine or under the sanitizers. Sleeps between checks, not yield(): the
// goroutines waited for may be sleeping themselves. (Inside blocking() the thread sleeps.)
template <class Pred>
bool eventually(Pred&& pred, std::chrono::nanoseconds poll = std::chrono::microseconds(50)) {
  using namespace std::chrono_literals;
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    goro::sleep_for(poll);
  }
  return true;
}
// Waits (from a goroutine) until `counter` reaches `target`; false after 20 s.
inline bool wait_count(const std::atomic<long>& counter, long target) {
  return eventually([&] { return counter.load() >= target; });
}
// How often `part` occurs in `s`.
inline std::size_t count_of(const std::string& s, const std::string& part) {
  std::size_t n = 0;
  for (std::size_t at = s.find(part); at != std::string::npos; at = s.find(part, at + 1)) ++n;
  return n;
}
// Waits (from a goroutine) until goro::dump shows at least `count` goroutines parked with wait
// reason `reason`. False after 20 s: the goroutines never blocked there.
inline bool wait_parked(const std::string& reason, std::size_t count = 1) {
  return eventually([&] {
    std::ostringstream out;
    goro::dump(out);
    return count_of(out.str(), "[" + reason + ", ") >= count;
  }, std::chrono::milliseconds(1));  // a dump is not cheap
}

// Busy-waits for d without a scheduling point (goro does not preempt it).
inline void spin_for(std::chrono::nanoseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
  }
}

// Runs main in a fresh runtime; the deadlock_error's report, or "" when it returns normally.
inline std::string deadlock_report(goro::Config c, void (*main)()) {
  try {
    goro::run(c, main);
  } catch (const goro::deadlock_error& e) {
    return e.what();
  }
  return "";
}

// Sets an environment variable for the current scope; unsets it (not restores it) at the end.
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  const char* name_;
};

// Child processes: a test can re-run this binary as `--child NAME` to observe a crash or an
// environment-dependent start-up in isolation.
using ChildMain = std::function<int()>;
std::map<std::string, ChildMain>& children();
struct RegisterChild {
  RegisterChild(const char* name, ChildMain main) { children()[name] = std::move(main); }
};
#define GORO_CHILD_CAT2(a, b) a##b
#define GORO_CHILD_CAT(a, b) GORO_CHILD_CAT2(a, b)
#define GORO_CHILD(name)                                                                   \
  static int GORO_CHILD_CAT(child_, __LINE__)();                                           \
  static ::goro_test::RegisterChild GORO_CHILD_CAT(child_reg_, __LINE__)(                  \
      name, &GORO_CHILD_CAT(child_, __LINE__));                                            \
  static int GORO_CHILD_CAT(child_, __LINE__)()

struct ChildResult {
  int exit_code = -1;    // when it exited
  int signal = 0;        // when a signal killed it
  std::string err;       // its stderr
};
// Runs `--child name` with extra environment variables ("NAME=value").
ChildResult run_child(const std::string& name, const std::vector<std::string>& env = {});
// Runs a child as run_child does and checks that it exited with status 0 (a signal, such as a
// child's alarm going off on a hang, fails the check), showing the child's stderr if not. A macro,
// so that a failure names the test's line.
#define CHECK_CHILD_SUCCEEDS(...)                                                       \
  do {                                                                                  \
    const ::goro_test::ChildResult child_result_ = ::goro_test::run_child(__VA_ARGS__); \
    INFO(child_result_.err);                                                            \
    CHECK(child_result_.signal == 0);                                                   \
    CHECK(child_result_.exit_code == 0);                                                \
  } while (false)

// Parks the calling goroutine with no one to wake it (test wait reason).
void park_forever();

// A one-goroutine binary semaphore on the raw parking protocol (sched/park.hpp), so the core
// runtime can be tested before channels exist. wait(): goroutines only; signal(): anyone.
class Signal {
 public:
  void wait();
  void signal();

 private:
  std::atomic<bool> locked_{false};
  bool token_ = false;
  void* waiter_ = nullptr;  // goro::rt::G*
  void lock();
  void unlock() { locked_.store(false, std::memory_order_release); }
  friend struct SignalAccess;
};

// Process CPU time (user + system) in nanoseconds.
long long cpu_time_ns();

}  // namespace goro_test
