// runtime/sync/cond.cpp — goro::Cond: Go's sync.Cond with its ticket-based notify list
// (runtime/sema.go notifyList). A waiter takes a ticket and queues before the mutex is unlocked
// (see wait); signal() advances notify_ticket_ and wakes the holder of that ticket, broadcast()
// wakes them all. So a signal sent after the unlock is never lost.
#include "sync/waitlist.hpp"

namespace goro {

// Settling waiters that a stopping runtime abandons (sync/waitlist.hpp).
struct CondAccess {
  // Still queued with ticket `w.want`, which no signal has reached yet. Left alone, the signal()
  // that reaches that ticket would wake nobody, though others wait. Move every later ticket
  // down by one instead, and take the newest ticket back: the waiters keep their order, so
  // signal() still wakes the oldest first (giving the newest waiter the freed ticket would let
  // it jump ahead). (Every ticket holder is queued: a waiter takes its ticket and queues under
  // the list's lock.)
  static void unqueued(rt::SyncWaiter& w, rt::WakeList&) {
    auto* c = static_cast<Cond*>(w.owner);
    for (auto* n = static_cast<rt::SyncWaiter*>(c->waiters_.head); n; n = n->next)
      if (n->want > w.want) --n->want;
    --c->wait_ticket_;
  }
  // One already signalled keeps its signal: a Cond, like std::condition_variable, may be
  // destroyed once every waiter is notified, so settling must not touch it then.
  static constexpr rt::SettleOps settle{&unqueued, nullptr};
};

void Cond::wait() {
  using namespace rt;
  // Like std::condition_variable, a Cond may be destroyed as soon as every waiter is notified,
  // before they return. Go takes its ticket, unlocks, then queues (its collector keeps the Cond
  // alive meanwhile); here a notifier could take the mutex, notify and destroy the Cond in that
  // gap. So the waiter takes its ticket and queues under the list's lock, and unlocks the mutex
  // only once asleep (wait_then): every notifier finds it queued, and after the wake-up nothing
  // reads a member.
  Mutex& mutex = mutex_;
  SyncWaiter w(&CondAccess::settle, this);
  WaitQ q(waiters_);
  q.lock();
  w.want = static_cast<std::int64_t>(wait_ticket_++);
  q.wait_then(w, WaitReason::sync_cond, [](void* m) { static_cast<Mutex*>(m)->unlock(); }, &mutex);
  mutex.lock();
}

void Cond::signal() {
  using namespace rt;
  note_plain_thread();  // even finding nobody: a plain thread that signals may do so again
  WakeFence fence;
  WaitQ q(waiters_);
  q.lock();
  if (notify_ticket_ == wait_ticket_) {  // nobody waits
    q.unlock();
    return;
  }
  const auto ticket = static_cast<std::int64_t>(notify_ticket_++);
  // Its holder is queued (see wait), unless teardown settled it.
  SyncWaiter* w = q.front();
  while (w && w->want != ticket) w = w->next;
  if (w) q.remove(w);
  q.unlock();
  if (w) w->party.wake();
}

void Cond::broadcast() {
  using namespace rt;
  note_plain_thread();  // as in signal()
  WakeFence fence;
  WaitQ q(waiters_);
  q.lock();
  notify_ticket_ = wait_ticket_;
  WakeList woken;
  q.take_all(woken);
  q.unlock();
  woken.wake_all();
}

}  // namespace goro
