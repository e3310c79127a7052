// runtime/diag/deadlock.cpp — "all goroutines are asleep - deadlock!"
//
// A deadlock is suspected by a worker about to park for lack of work (schedule.cpp), after its
// final look at every queue, when at that moment every P is idle and no worker is looking for
// work — so no goroutine is running or runnable — and nothing outside the goroutines can wake
// one: no goroutine inside blocking() or running on without a P (monitor.cpp), no plain thread inside a goro call or registered as a
// possible waker (spawn.cpp: a plain thread registers at its first goro call, for its life), no
// armed timer that can wake one (a sleeping goroutine, an after_func, a Timer or Ticker that a
// goroutine is parked on — time/timers.hpp), no party waiting on a socket. Every such condition
// is a counter raised before the party can act and lowered after (a goroutine parks on a
// timer's channel before its P goes idle), so a party that could still wake someone is seen.
//
// The monitor then confirms it: kGraceNs later, the same conditions must still hold and no
// goroutine may have run in between (the P switch counters have not moved). Go reports at once;
// the grace is for the pattern Go does not have — a plain thread, started just before every
// goroutine went to sleep, that will wake one once it gets going but has not yet touched goro.
// Once confirmed, the runtime stops with goro::dump's listing and run() throws.
//
// A worker's check can fail only because of a party that is about to go away; then nobody would
// look again, as no worker parks after it has gone. So those parties make the look themselves:
//   * a goroutine that lost its P (nunowned) checks on its worker once it has blocked or ended
//     without one (schedule.cpp), as a worker that parks does;
//   * the last registered plain thread, as it exits (spawn.cpp), raises the suspicion and wakes
//     the monitor — from inside an ExternalScope, so that the monitor outlives the call;
//   * a plain thread's goro call in flight (external_ops; a dump, a stats() call) only postpones
//     the verdict: a suspicion that finds nothing else awake but such a call is kept, and the
//     monitor looks again next round, when the call has ended. Its hot path pays nothing.
#include "sched/sched.hpp"

#include "sched/monitor.hpp"
#include "net/poller.hpp"
#include "time/timers.hpp"

#include <goro/runtime.hpp>

#include <chrono>
#include <thread>

namespace goro::rt {

namespace {

// Go's first line, then what to look for; goro::dump's listing follows.
constexpr const char* kReportHead =
    "all goroutines are asleep - deadlock!\n\n"
    "Every goroutine below is blocked, and nothing can wake one: no pending timer can, nobody\n"
    "waits on a socket or inside blocking(), and no thread outside the runtime that has used\n"
    "goro is alive. Look for the channel, lock or WaitGroup that nothing will ever operate on\n"
    "again. (A thread that has not used goro yet cannot be seen: if one will wake these\n"
    "goroutines, see Config::detect_deadlock.)\n\n";

constexpr std::chrono::milliseconds kGrace{100};

enum class Look {
  awake,        // something runs, or something can still wake a goroutine
  calls_ending, // asleep but for plain threads' goro calls in flight (external_ops): look again
  asleep,
};

Look look() {
  if (!sched.settings.detect_deadlock || sched.stopping.load(std::memory_order_acquire)) return Look::awake;
  if (sched.npidle.load(std::memory_order_seq_cst) != static_cast<int>(sched.nprocs) ||
      sched.nmspinning.load(std::memory_order_seq_cst) != 0 ||
      sched.nblocking.load(std::memory_order_seq_cst) != 0 ||
      sched.nunowned.load(std::memory_order_seq_cst) != 0 ||
      sched.external_threads.load(std::memory_order_seq_cst) > 0)
    return Look::awake;
  for (auto& p : sched.ps)
    if (!p->runq.empty()) return Look::awake;
  if (poller.waiters() > 0) return Look::awake;  // the network can
  if (!sched.globalq->empty()) return Look::awake;
  // A sleeper or a pending timer can still wake someone — not a Timer or Ticker whose channel
  // nobody is parked on (last: it looks at every timer until one can).
  if (timers_can_wake()) return Look::awake;
  // Last: a call that ends after the look above has made none of it change.
  return sched.external_ops.load(std::memory_order_seq_cst) != 0 ? Look::calls_ending : Look::asleep;
}

std::uint64_t switches() {
  std::uint64_t n = 0;
  for (auto& p : sched.ps) n += p->counters.switches.get();
  return n;
}

}  // namespace

void suspect_deadlock() {
  sched.deadlock_suspected.store(true, std::memory_order_seq_cst);
  sched.monitor->wake();
}

void check_deadlock() {
  if (look() != Look::awake) suspect_deadlock();
}

void confirm_deadlock() {
  if (!sched.deadlock_suspected.exchange(false, std::memory_order_seq_cst)) return;
  const std::uint64_t before = switches();
  const auto until = std::chrono::steady_clock::now() + kGrace;
  for (;;) {
    switch (look()) {
      case Look::awake:
        return;
      case Look::calls_ending:  // keep the suspicion: the next round looks again
        sched.deadlock_suspected.store(true, std::memory_order_seq_cst);
        return;
      case Look::asleep:
        break;
    }
    if (std::chrono::steady_clock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (switches() != before) return;
  fail(std::make_exception_ptr(
      deadlock_error(kReportHead + dump_string())));
}

}  // namespace goro::rt
