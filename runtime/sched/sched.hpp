// runtime/sched/sched.hpp — the scheduler's shared state and the functions that work on it.
//
// Glossary (Go's, see proc.go):
//   G  a goroutine (g.hpp)       M  a worker thread (m.hpp)       P  a processor (p.hpp)
//
// Where things live:
//   schedule.cpp  the worker loop: find work (local, global, steal), else park the worker
//   dispatch.hpp  the hot path: pick the next goroutine of this P and switch to it
//   runq.hpp      a P's local run queue and runnext slot
//   globalq.hpp   the global run queue
//   steal.cpp     taking work from other Ps, nearest first
//   idle.cpp      spinning and parking workers; who must wake whom (the protocol is there)
//   park.cpp      parking and readying goroutines: the contract every blocking primitive uses
//   spawn.cpp     go()
//   blocking.cpp  goro::blocking(): running without a P
//   monitor.cpp   the background monitor (sysmon): stuck Ps, the scheduler trace
//   run.cpp       starting and stopping a runtime, failures
//   settle.cpp    what becomes of the calls of goroutines a stopping runtime abandons
//   ../diag/      dump, stats, deadlock detection
#pragma once

#include "fiber/stack.hpp"
#include "os/never_destroyed.hpp"
#include "sched/config.hpp"
#include "sched/g.hpp"
#include "sched/globalq.hpp"
#include "sched/gpool.hpp"
#include "sched/m.hpp"
#include "sched/p.hpp"

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace goro::rt {

class Monitor;

struct Sched {
  // Read on every switch, spawn or park and written when a run starts or stops, and by the
  // monitor every few ms at most (coarse_now when the coarse clock moves, the two flags around
  // its longer sleeps), so every core keeps this line cached. What more than one core writes often
  // lives on lines of its own below: sharing this line with the goroutine id counter cost fib(27)
  // at procs 2 a cache miss on that counter every 16 spawns, and on these fields after each.
  alignas(64) unsigned nprocs = 0;
  std::atomic<bool> running{false};   // between start and the end of teardown
  std::atomic<bool> stopping{false};  // main returned, a goroutine failed, or deadlock
  std::atomic<bool> main_returned{false};  // main's function is over (for messages)
  G* main_g = nullptr;
  std::unique_ptr<GlobalQueue> globalq;
  // Monotonic time to ~10 ms, kept by the monitor while any P is busy: what park() stamps a
  // goroutine's wait with (a vDSO clock read on every park costs more than the rest of it).
  std::atomic<std::int64_t> coarse_now{0};
  // Set by the monitor while it sleeps longer than a tick (it found nothing to do for a while);
  // blocking() clears it and wakes the monitor, which then watches the call every tick again
  // (monitor.cpp). Changes at most once per back-off, ~1 ms at the fastest.
  std::atomic<bool> monitor_backed_off{false};
  // Set by the monitor while it sleeps longer than 1 ms (unless a ready woke it in the last
  // 10 ms); a goroutine readied into an empty runnext (which wakes no worker, idle.cpp) clears it
  // and wakes the monitor, which then hands the goroutine to an idle P if it has not moved
  // (park.cpp, monitor.cpp).
  std::atomic<bool> monitor_sleeps_long{false};
  std::vector<std::unique_ptr<P>> ps;
  std::atomic<std::uint64_t> generation{0};  // runs started in this process

  alignas(64) GPool gpool;
  alignas(64) StackPool stacks;
  alignas(64) std::atomic<std::uint64_t> next_goid{1};
  alignas(64) Settings settings;
  std::int64_t start_ns = 0;

  // Idle Ps and Ms (idle.cpp). `lock` guards the two lists and the creation of Ms.
  alignas(64) std::mutex lock;
  P* pidle = nullptr;
  M* midle = nullptr;
  unsigned nmidle = 0;
  std::vector<std::unique_ptr<M>> ms;
  std::atomic<int> npidle{0};
  std::atomic<int> nmspinning{0};

  // Possible sources of wake-ups that are no goroutine (for deadlock detection).
  std::atomic<int> nblocking{0};         // goroutines inside blocking()
  std::atomic<int> nunowned{0};          // goroutines running on, whose P the monitor took
  std::atomic<int> external_ops{0};      // plain threads inside a goro call right now
  std::atomic<int> external_threads{0};  // plain threads that have used goro and are alive
  std::atomic<bool> deadlock_suspected{false};  // see diag/deadlock.cpp

  std::atomic<std::uint64_t> external_spawned{0};  // by plain threads and P-less goroutines
  std::atomic<std::uint64_t> external_exited{0};   // goroutines that ended without a P
  std::atomic<std::uint64_t> retakes{0};           // Ps retaken from blocking() calls
  std::atomic<std::uint64_t> preempt_handoffs{0};  // Ps taken from long-running goroutines
  std::atomic<std::uint64_t> parks{0}, unparks{0}, handoffs{0};

  std::mutex failure_mu;
  std::exception_ptr failure;

  std::unique_ptr<Monitor> monitor;
};

// The one scheduler, never destroyed (os/never_destroyed.hpp).
extern os::NeverDestroyed<Sched> sched_storage;
inline constinit Sched& sched = sched_storage.value;

// ---- schedule.cpp ----
void worker_loop(M* m);
// (switch_away and next_local: dispatch.hpp)
[[noreturn]] void goroutine_main(fctx::transfer_t t);
void goexit(G* g);  // the goroutine's function has returned
// Moves p's fair share of the global queue into its (empty) ring; returns one of them to run.
G* global_refill(P* p);
void acquirep(M* m, P* p);
P* releasep(M* m);

// ---- runq helpers (park.cpp) ----
// Queues g on p: in runnext (kicking the old occupant to the tail) or at the tail, and wakes an
// idle P for it — not for a ready into an empty runnext, unless `spawned` (idle.cpp).
void runq_put(P* p, G* g, bool next, bool spawned = false);

// ---- steal.cpp ----
void build_victims();
// Takes work from another P for m's P. `patient`: only goroutines that have waited there a while
// (steal.cpp); if some wait, but not yet long enough, `retry_at` is set to when they will have.
G* steal_work(M* m, bool patient, std::int64_t& retry_at);
// Takes, without waiting, goroutines that have waited a while in another P's ring: for a worker
// about to poll the network instead of stealing (steal.cpp, "Stranded goroutines").
G* steal_stranded(M* m);

// ---- idle.cpp ----
void wakep();
// After local work was queued: start a spinning M if Ps are idle and nobody is looking.
inline void maybe_wakep() {
  if (sched.npidle.load(std::memory_order_relaxed) > 0 &&
      sched.nmspinning.load(std::memory_order_relaxed) == 0)
    wakep();
}
void startm(P* p, bool spinning);
bool stopm(M* m);          // parks m until it is handed a P; false if the runtime stops
void pidleput(P* p);       // sched.lock held
P* pidleget();             // sched.lock held
P* pidleget(P* wanted);    // sched.lock held; that P if it is idle, else any
void reset_spinning(M* m);
bool may_spin();
void handoffp(P* p);
void wake_all_for_stop();
// Starts one of the runtime's own threads (a worker, the monitor). Failing to is fatal, as in
// Go: a runtime that cannot keep its Ps running has no sane way on, and the state it is in
// (a P handed to an M that never starts) cannot be unwound from wherever go() happened to be.
[[noreturn]] void thread_start_failed(const char* role, const std::system_error& e);
template <class F>
std::thread start_runtime_thread(const char* role, F&& f) {
  try {
    return std::thread(std::forward<F>(f));
  } catch (const std::system_error& e) {
    thread_start_failed(role, e);
  }
}

// ---- spawn.cpp ----
G* new_g(P* p);            // from p's cache, or from the global pool if p is null
std::uint64_t new_goid(P* p);
// A plain thread entering a goro call: while it is inside, the runtime will not tear down, and
// it counts as a possible waker. `waker`: the call can wake goroutines (go, channel operations),
// so the thread stays registered as a possible waker until it exits. Throws std::logic_error if
// no runtime runs.
void enter_external(bool waker);
void leave_external();
// Like enter_external(false), but reports false instead of throwing (for stats and dump).
bool try_enter_external();
// try_enter_external() for a scope. `needed` false (a goroutine: run() waits for it anyway):
// enters nothing and admits. admitted() is false only if a needed entry failed: no runtime
// runs, or it is stopping.
class ExternalScope {
 public:
  explicit ExternalScope(bool needed = true)
      : held_(needed && try_enter_external()), admitted_(!needed || held_) {}
  ~ExternalScope() {
    if (held_) leave_external();
  }
  ExternalScope(const ExternalScope&) = delete;
  ExternalScope& operator=(const ExternalScope&) = delete;
  bool admitted() const { return admitted_; }

 private:
  const bool held_;
  const bool admitted_;
};
// Counts the calling plain thread as a possible waker for the rest of its life (once per run).
void register_external_thread();

// ---- run.cpp ----
void fail(std::exception_ptr e);  // records the first failure and stops the runtime
void begin_stop();

// ---- ../diag ----
void check_deadlock();    // a worker about to park: raise a suspicion if all looks asleep
// Raises the suspicion unchecked and wakes the monitor to look (a possible waker has just gone).
// A plain thread must hold an ExternalScope: the monitor must outlive the call.
void suspect_deadlock();
void confirm_deadlock();  // the monitor: fail the run if the suspicion holds up
std::string dump_string();

}  // namespace goro::rt
