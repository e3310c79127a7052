// goro/runtime.hpp — start the runtime, spawn goroutines, look inside.
//
//   #include <goro/runtime.hpp>
//
//   int main() {
//     return goro::run([] {                  // main() becomes goroutine 1
//       for (int i = 0; i < 1000; ++i)
//         goro::go([i] { work(i); });        // a goroutine: a few hundred bytes until it runs
//       goro::yield();
//       return 0;                            // run() returns once main returns
//     });
//   }
//
// A note on thread_local: goroutines migrate between worker threads whenever they block or
// yield. A `thread_local` read before a blocking call and used after it may belong to another
// thread by then. Keep per-goroutine state in the goroutine (locals, captures) instead.
#pragma once

#include <goro/detail/callable.hpp>
#include <goro/detail/task.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace goro {

struct Config {
  unsigned procs = 0;           // number of Ps (GOMAXPROCS). 0: env GORO_PROCS, else every PU in
                                // the process's CPU set (hwloc, cgroup/affinity aware)
  bool pin = false;             // pin each worker to one core, topology-aware (env GORO_PIN=1)
  std::size_t stack_size = 0;   // bytes reserved per goroutine stack; 0: env GORO_STACK, else 256 KiB
  bool detect_deadlock = true;  // see deadlock_error
};

// Thrown by run() when every goroutine is blocked and nothing can ever wake one. what() starts
// with "all goroutines are asleep - deadlock!" and lists the goroutines as dump() does.
struct deadlock_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Stats {
  unsigned procs = 0;                  // Ps
  unsigned idle_procs = 0;             // Ps with nothing to run
  unsigned threads = 0;                // worker threads started (Ms)
  unsigned spinning_threads = 0;       // workers looking for work right now
  unsigned blocking_calls = 0;         // goroutines inside blocking() right now
  std::size_t goroutines = 0;          // live goroutines, main included
  std::uint64_t spawned = 0;           // goroutines created since run() started
  std::uint64_t context_switches = 0;  // goroutine switches
  std::uint64_t steals = 0;            // successful steals from another P's run queue
  std::uint64_t stolen = 0;            // goroutines moved by those steals
  std::uint64_t worker_parks = 0;      // times a worker thread went to sleep for lack of work
  std::uint64_t worker_unparks = 0;    // times a sleeping worker was woken to run a P
  std::uint64_t handoffs = 0;          // Ps given to another worker (work waited, or none looked)
  std::uint64_t retakes = 0;           // Ps taken back from blocking() calls by the monitor
  std::uint64_t preempt_handoffs = 0;  // Ps taken from goroutines running > 10 ms without yielding
  std::size_t global_queue = 0;        // goroutines in the global run queue
  std::vector<std::size_t> run_queues; // per P: goroutines in its local run queue (runnext included)
};

namespace detail {
void run_main(const Config& config, void (*body)(void*), void* arg);
TaskSlot* spawn_begin();
// Queues the goroutine. Its own return address, which lies in the code of the function that
// called go() (go is always inlined), is the goroutine's spawn site for goro::dump.
[[gnu::noinline]] void spawn_commit(TaskSlot* slot) noexcept;
void spawn_cancel(TaskSlot* slot) noexcept;
bool enter_blocking() noexcept;  // false on a plain thread (nothing to do)
void exit_blocking() noexcept;

template <class R>
class RunResult {  // what main() returned, carried out of run()
 public:
  template <class F>
  void produce(F& f) {
    if constexpr (std::is_void_v<R>) {
      f();
    } else if constexpr (std::is_reference_v<R>) {
      R r = f();  // named, so that an rvalue reference (R = T&&) has an address too
      value_ = std::addressof(r);
    } else {
      value_.emplace(f());
    }
  }
  R take() {
    if constexpr (std::is_void_v<R>) {
      return;
    } else if constexpr (std::is_reference_v<R>) {
      return static_cast<R>(*value_);
    } else {
      return std::move(*value_);
    }
  }

 private:
  using Stored = std::conditional_t<std::is_reference_v<R>, std::remove_reference_t<R>*,
                                    std::optional<std::conditional_t<std::is_void_v<R>, int, R>>>;
  Stored value_{};
};
}  // namespace detail

// Runs `main` as goroutine 1 on a fresh runtime and returns what it returns. Throws what main
// throws, what any other goroutine lets escape, or deadlock_error. Throws std::logic_error if a
// runtime is already running (run inside run), std::invalid_argument for a bad Config or a bad
// GORO_PROCS / GORO_STACK / GORO_PIN, or a null function pointer or empty std::function as main.
template <class F>
decltype(auto) run(const Config& config, F&& main) {
  using R = std::invoke_result_t<F&>;
  // At the call, as go() does: goroutine 1 would crash on it (or throw bad_function_call).
  detail::check_callable(main, "goro: run of a null function");
  struct Main {
    F& fn;
    detail::RunResult<R> result;
    static void body(void* self) {
      Main& m = *static_cast<Main*>(self);
      m.result.produce(m.fn);
    }
  } m{main, {}};
  detail::run_main(config, &Main::body, &m);
  return m.result.take();
}

template <class F>
decltype(auto) run(F&& main) {
  return run(Config{}, std::forward<F>(main));
}

// Starts f(args...) as a new goroutine. Arguments are decay-copied, as std::thread does. From a
// goroutine or from any thread while a runtime runs; std::logic_error if none runs,
// std::invalid_argument for a null function pointer or an empty std::function.
// (Always inlined, so that spawn_commit's return address lies in the caller's code and names the
// `go` call in goro::dump. A return address taken in an out-of-line go() named the caller's
// caller whenever the optimizer turned the call to go() into a jump.)
template <class F, class... Args>
[[gnu::always_inline]] inline void go(F&& f, Args&&... args) {
  static_assert(std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>,
                "goro::go(f, args...): f must be callable with (decay-copied) args, as for std::thread");
  detail::check_callable(f, "goro: go of a null function");
  detail::TaskSlot* slot = detail::spawn_begin();
  try {
    detail::emplace_call(*slot, std::forward<F>(f), std::forward<Args>(args)...);
  } catch (...) {
    detail::spawn_cancel(slot);
    throw;
  }
  detail::spawn_commit(slot);
  asm volatile("");  // spawn_commit must be a real call, not a jump: its return address is used
}

void yield();                  // let other goroutines run (runtime.Gosched)
unsigned procs();              // Ps of the running runtime; 0 if none runs
std::uint64_t goroutine_id();  // 1 for main, unique, never reused; 0 on a thread that is no goroutine
std::size_t num_goroutines();  // live goroutines, main included; 0 if no runtime runs

// Runs f, which may block its OS thread in a syscall or a foreign library, without holding a P:
// other goroutines keep every P busy meanwhile. Inside f the thread behaves as a plain thread
// (goro calls that block, block the thread). On a plain thread it just calls f. The errno f
// leaves is the caller's errno after the call, on whichever thread the goroutine comes back.
template <class F>
decltype(auto) blocking(F&& f) {
  struct Region {
    bool entered = detail::enter_blocking();
    ~Region() {
      if (entered) detail::exit_blocking();
    }
  } region;
  return std::forward<F>(f)();
}

// Every live goroutine: id, state and wait reason, how long it has waited, where it was spawned.
void dump(std::ostream& out);

Stats stats();

}  // namespace goro
