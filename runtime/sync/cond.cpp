// runtime/sync/cond.cpp — goro::Cond: Go's sync.Cond with its ticket-based notify list
// (runtime/sema.go notifyList). A waiter takes a ticket before unlocking the mutex; signal()
// and broadcast() advance notify_ticket_. A waiter whose ticket is already below it does not
// block at all — so a signal between unlocking and blocking is never lost.
#include "sync/waitlist.hpp"

namespace goro {

// Settling waiters that a stopping runtime abandons (sync/waitlist.hpp).
struct CondAccess {
  // Still queued with ticket `w.want`, which no signal has reached yet. Left alone, the signal()
  // that reaches that ticket would wake nobody, though others wait. Give the ticket to the
  // newest waiter instead, and take the newest ticket back. If the newest ticket's holder has
  // not queued yet (a plain thread between taking its ticket and blocking), there is nothing
  // safe to do.
  static void unqueued(rt::SyncWaiter& w, rt::WakeList&) {
    auto* c = static_cast<Cond*>(w.owner);
    const auto newest = static_cast<std::int64_t>(c->wait_ticket_ - 1);
    if (w.want != newest) {
      auto* n = static_cast<rt::SyncWaiter*>(c->waiters_.head);
      while (n && n->want != newest) n = n->next;
      if (!n) return;
      n->want = w.want;
    }
    --c->wait_ticket_;
  }
  // One already signalled keeps its signal: a Cond, like std::condition_variable, may be
  // destroyed once every waiter is notified, so settling must not touch it then.
  static constexpr rt::SettleOps settle{&unqueued, nullptr};
};

void Cond::wait() {
  using namespace rt;
  // Once notified, the waiter must not touch *this again: like std::condition_variable, a Cond
  // may be destroyed as soon as every waiter is notified, before they return. So the mutex is
  // remembered here, and nothing after the wake-up reads a member.
  Mutex& mutex = mutex_;
  WaitQ q(waiters_);
  q.lock();
  const std::uint64_t ticket = wait_ticket_++;
  q.unlock();
  mutex.unlock();
  q.lock();
  if (ticket < notify_ticket_) {
    q.unlock();
  } else {
    SyncWaiter w(current_g());
    if (!w.party.is_goroutine()) note_plain_thread();
    w.want = static_cast<std::int64_t>(ticket);
    w.settle = &CondAccess::settle;
    w.owner = this;
    q.wait(w, WaitReason::sync_cond);  // returns with *this possibly gone
  }
  mutex.lock();
}

void Cond::signal() {
  using namespace rt;
  WakeFence fence;
  WaitQ q(waiters_);
  q.lock();
  if (notify_ticket_ == wait_ticket_) {  // nobody waits
    q.unlock();
    return;
  }
  const auto ticket = static_cast<std::int64_t>(notify_ticket_++);
  // The holder of that ticket may not have blocked yet; then it will see it is notified.
  SyncWaiter* w = q.front();
  while (w && w->want != ticket) w = w->next;
  if (w) q.remove(w);
  q.unlock();
  if (w) w->party.wake();
}

void Cond::broadcast() {
  using namespace rt;
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
