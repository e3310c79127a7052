// runtime/time/timers.cpp — see timers.hpp.
#include "time/timers.hpp"

#include "os/clock.hpp"
#include "net/netpoll.hpp"
#include "sched/sched.hpp"

#include <mutex>

namespace goro::rt {
namespace {

TimerHeap* heap_for_caller(M* m) {
  if (m && m->p) return &m->p->timers;
  // A plain thread: spread its timers over the Ps.
  thread_local std::uint32_t next = 0;
  return &sched.ps[next++ % sched.nprocs]->timers;
}

}  // namespace

bool arm(TimerEntry* t) {
  RuntimeSection section;
  const ExternalScope external(!section.m() || !section.m()->curg);  // a plain thread
  if (!external.admitted()) return false;
  TimerHeap* h = heap_for_caller(section.m());
  const std::int64_t when = t->when;  // once armed, t is the heap's: a ticker's `when` moves on
  {
    std::lock_guard lock(h->lock);
    h->add_locked(t);
  }
  timer_armed(when);
  return true;
}

bool disarm(TimerEntry* t) {
  RuntimeSection section;
  // A plain thread keeps the runtime from tearing down the heap (its P) between our load of
  // `heap` and the lock, as arm() does. If the runtime is stopping, teardown drops the entry
  // instead; a worker may still pop it before then, and the caller's seq must make that fire a
  // no-op (time/timer.cpp: the entry keeps the seq it was armed with).
  const ExternalScope external(!section.m() || !section.m()->curg);
  if (!external.admitted()) return false;
  bool removed = false;
  while (TimerHeap* h = t->heap.load(std::memory_order_acquire)) {
    std::lock_guard lock(h->lock);
    removed = h->remove_locked(t);
    if (removed) break;
    // It moved (fired, or re-armed elsewhere) between our load and the lock: look again.
  }
  return removed;
}

void timer_armed(std::int64_t when) { deadline_added(when); }

std::int64_t earliest_timer() {
  std::int64_t earliest = 0;
  for (auto& p : sched.ps) {
    const std::int64_t w = p->timers.earliest();
    if (w && (!earliest || w < earliest)) earliest = w;
  }
  return earliest;
}

bool timers_can_wake() {
  for (auto& p : sched.ps)
    if (p->timers.earliest() && p->timers.any_wakes()) return true;
  return false;
}

int run_timers(P* p, bool all) {
  if (!all) {
    const std::int64_t w = p->timers.earliest();
    if (!w) return 0;
    const std::int64_t now = os::now_ns();
    return w <= now ? p->timers.run_expired(now) : 0;
  }
  const std::int64_t earliest = earliest_timer();
  if (!earliest) return 0;
  const std::int64_t now = os::now_ns();
  if (earliest > now) return 0;
  int fired = 0;
  for (auto& q : sched.ps) {
    const std::int64_t w = q->timers.earliest();
    if (w && w <= now) fired += q->timers.run_expired(now);
  }
  return fired;
}

}  // namespace goro::rt
