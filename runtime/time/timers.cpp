// runtime/time/timers.cpp — see timers.hpp.
#include "time/timers.hpp"

#include "os/clock.hpp"
#include "sched/sched.hpp"

#include <chrono>
#include <climits>
#include <mutex>

namespace goro::rt {
namespace {

// The worker sleeping until the next deadline, and that deadline. INT64_MAX while it has not
// published one yet: an arm in that window wakes it, and it looks again.
std::atomic<M*> poller{nullptr};
std::atomic<std::int64_t> poll_until{INT64_MAX};

TimerHeap* heap_for_caller() {
  M* m = current_m();
  if (m && m->p) return &m->p->timers;
  // A plain thread: spread its timers over the Ps.
  thread_local std::uint32_t next = 0;
  return &sched.ps[next++ % sched.nprocs]->timers;
}

}  // namespace

bool arm(TimerEntry* t) {
  const bool plain = !current_m() || !current_m()->p;
  if (plain && !try_enter_external()) return false;
  TimerHeap* h = heap_for_caller();
  {
    std::lock_guard lock(h->lock);
    h->add_locked(t);
  }
  timer_armed(t->when);
  if (plain) leave_external();
  return true;
}

bool disarm(TimerEntry* t) {
  for (;;) {
    TimerHeap* h = t->heap.load(std::memory_order_acquire);
    if (!h) return false;
    std::lock_guard lock(h->lock);
    if (h->remove_locked(t)) return true;
    // It moved (fired, or re-armed elsewhere) between our load and the lock: look again.
  }
}

void timer_armed(std::int64_t when) {
  if (M* m = poller.load(std::memory_order_seq_cst)) {
    if (when < poll_until.load(std::memory_order_seq_cst)) m->parker.unpark();
  } else if (sched.npidle.load(std::memory_order_seq_cst) == static_cast<int>(sched.nprocs)) {
    wakep();  // everyone sleeps for good: someone must become the poller for this deadline
  }
}

std::int64_t earliest_timer() {
  std::int64_t earliest = 0;
  for (auto& p : sched.ps) {
    const std::int64_t w = p->timers.earliest();
    if (w && (!earliest || w < earliest)) earliest = w;
  }
  return earliest;
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

bool poll_timers(M* m) {
  if (!earliest_timer()) return false;
  M* none = nullptr;
  if (!poller.compare_exchange_strong(none, m, std::memory_order_seq_cst)) return false;
  // Read the deadline after claiming the role: an arm that raced with the claim either shows
  // up here or sees us as the poller and wakes us (timer_armed).
  const std::int64_t until = earliest_timer();
  poll_until.store(until ? until : INT64_MAX, std::memory_order_seq_cst);
  if (until && !sched.stopping.load(std::memory_order_acquire)) {
    const std::int64_t wait = until - os::now_ns();
    if (wait > 0) m->parker.park_for(std::chrono::nanoseconds(wait));
  }
  poll_until.store(INT64_MAX, std::memory_order_seq_cst);
  poller.store(nullptr, std::memory_order_seq_cst);
  if (sched.stopping.load(std::memory_order_acquire)) return false;

  P* p;
  {
    std::lock_guard lock(sched.lock);
    p = pidleget();
  }
  if (!p) return false;  // every P is busy; they run their own timers
  acquirep(m, p);
  run_timers(p, true);
  return true;
}

void wake_timer_poller() {
  if (M* m = poller.load(std::memory_order_seq_cst)) m->parker.unpark();
}

}  // namespace goro::rt
