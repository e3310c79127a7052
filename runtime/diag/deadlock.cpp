// runtime/diag/deadlock.cpp — "all goroutines are asleep - deadlock!"
//
// A deadlock is suspected by a worker about to park for lack of work (schedule.cpp), after its
// final look at every queue, when at that moment every P is idle and no worker is looking for
// work — so no goroutine is running or runnable — and nothing outside the goroutines can wake
// one: no goroutine inside blocking() or running on without a P (monitor.cpp), no plain thread inside a goro call or registered as a
// possible waker (spawn.cpp: a plain thread registers at its first goro call, for its life), no
// armed timer (a sleeping goroutine, a pending goro::Timer), no party waiting on a socket.
// Every such condition is a counter raised before the party can act and lowered after, so a
// party that could still wake someone is seen.
//
// The monitor then confirms it: kGraceNs later, the same conditions must still hold and no
// goroutine may have run in between (the P switch counters have not moved). Go reports at once;
// the grace is for the pattern Go does not have — a plain thread, started just before every
// goroutine went to sleep, that will wake one once it gets going but has not yet touched goro.
// Once confirmed, the runtime stops with goro::dump's listing and run() throws.
#include "sched/sched.hpp"

#include "sched/monitor.hpp"
#include "net/poller.hpp"
#include "time/timers.hpp"

#include <goro/runtime.hpp>

#include <chrono>
#include <thread>

namespace goro::rt {
namespace {

constexpr std::chrono::milliseconds kGrace{100};

bool looks_deadlocked() {
  if (!sched.settings.detect_deadlock || sched.stopping.load(std::memory_order_acquire)) return false;
  if (sched.npidle.load(std::memory_order_seq_cst) != static_cast<int>(sched.nprocs) ||
      sched.nmspinning.load(std::memory_order_seq_cst) != 0 ||
      sched.nblocking.load(std::memory_order_seq_cst) != 0 ||
      sched.nunowned.load(std::memory_order_seq_cst) != 0 ||
      sched.external_ops.load(std::memory_order_seq_cst) != 0 ||
      sched.external_threads.load(std::memory_order_seq_cst) > 0)
    return false;
  for (auto& p : sched.ps)
    if (!p->runq.empty()) return false;
  if (earliest_timer()) return false;  // a sleeper or a pending timer can still wake someone
  if (poller.waiters() > 0) return false;  // the network can
  return sched.globalq->empty();
}

std::uint64_t switches() {
  std::uint64_t n = 0;
  for (auto& p : sched.ps) n += p->counters.switches.get();
  return n;
}

}  // namespace

void check_deadlock() {
  if (!looks_deadlocked()) return;
  sched.deadlock_suspected.store(true, std::memory_order_seq_cst);
  sched.monitor->wake();
}

void confirm_deadlock() {
  if (!sched.deadlock_suspected.exchange(false, std::memory_order_seq_cst)) return;
  const std::uint64_t before = switches();
  const auto until = std::chrono::steady_clock::now() + kGrace;
  while (std::chrono::steady_clock::now() < until) {
    if (!looks_deadlocked()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!looks_deadlocked() || switches() != before) return;
  fail(std::make_exception_ptr(
      deadlock_error("all goroutines are asleep - deadlock!\n\n" + dump_string())));
}

}  // namespace goro::rt
