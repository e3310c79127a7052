// runtime/net/netpoll.cpp — see netpoll.hpp.
#include "net/netpoll.hpp"

#include "net/poller.hpp"
#include "os/clock.hpp"
#include "sched/sched.hpp"
#include "time/timers.hpp"

#include <algorithm>
#include <climits>
#include <mutex>

namespace goro::rt {
namespace {

// The worker blocked in epoll_wait, and the deadline it sleeps until. INT64_MAX while it has not
// published one yet: an arm in that window interrupts it, and it looks again.
std::atomic<M*> waiter{nullptr};
std::atomic<std::int64_t> wait_until{INT64_MAX};

}  // namespace

bool network_waiters() { return poller.started() && poller.waiters() != 0; }

int poll_network() {
  if (!network_waiters() || waiter.load(std::memory_order_relaxed)) return 0;
  return poller.poll(0);
}

int poll_network_lazily() {
  constexpr std::int64_t kLazyPollNs = 50'000;  // an I/O wake-up is at most this late; ~0.3% CPU
  if (!poller.started() || poller.waiters() == 0 || waiter.load(std::memory_order_relaxed)) return 0;
  if (os::now_ns() - poller.last_poll() < kLazyPollNs) return 0;
  return poller.poll(0);
}

int poll_network_unowned() {
  if (!poller.started() || poller.waiters() == 0) return 0;
  return poller.poll(0);
}

bool wait_for_events(M* m) {
  if (!poller.started()) return false;
  if (poller.waiters() == 0 && !earliest_timer()) return false;  // nothing can ever happen
  M* none = nullptr;
  if (!waiter.compare_exchange_strong(none, m, std::memory_order_seq_cst)) return false;
  // Read the deadline after claiming the role: an arm that raced with the claim either shows up
  // here or sees us as the waiter and interrupts us (deadline_added).
  const std::int64_t until = earliest_timer();
  wait_until.store(until ? until : INT64_MAX, std::memory_order_seq_cst);
  bool slept = false;  // in epoll_wait: a park, for stats
  if (!sched.stopping.load(std::memory_order_acquire)) {
    std::int64_t timeout = -1;
    if (until) timeout = std::max<std::int64_t>(until - os::now_ns(), 0);  // one clock read
    slept = timeout != 0;
    if (slept) sched.parks.fetch_add(1, std::memory_order_relaxed);
    poller.poll(timeout);  // readies into the global queue: we hold no P
  }
  wait_until.store(INT64_MAX, std::memory_order_seq_cst);
  waiter.store(nullptr, std::memory_order_seq_cst);
  if (sched.stopping.load(std::memory_order_acquire)) return false;

  P* p;
  {
    std::lock_guard lock(sched.lock);
    p = pidleget();
  }
  if (!p) return false;  // every P is busy: they will run what we readied, and their timers
  if (slept) sched.unparks.fetch_add(1, std::memory_order_relaxed);  // woken to run a P
  acquirep(m, p);
  run_timers(p, true);
  return true;
}

void deadline_added(std::int64_t when) {
  if (waiter.load(std::memory_order_seq_cst)) {
    if (when < wait_until.load(std::memory_order_seq_cst)) poller.interrupt();
  } else {
    // Nobody waits in the poller: get an idle worker there (Go's wakeNetPoller). The busy Ps
    // may not look at their timers in time — a goroutine that computes never yields.
    wakep();
  }
}

void plain_thread_waits() {
  // As deadline_added for a deadline nobody waits for: a waiter in epoll_wait sees the socket's
  // event anyway; otherwise an idle worker comes, finds poller.waiters() > 0, and becomes the
  // waiter. The count was raised first (seq_cst), and a worker about to park releases its P
  // first, then reads the count (wait_for_events): either it sees the count or we see its P idle.
  // Inside an ExternalScope: the scheduler must not be torn down under wakep().
  const ExternalScope external;
  if (external.admitted()) deadline_added(INT64_MAX);
}

void interrupt_waiter() {
  if (waiter.load(std::memory_order_seq_cst)) poller.interrupt();
}

}  // namespace goro::rt
