// runtime/sync/waitlist.cpp
#include "sync/waitlist.hpp"

namespace goro::rt {
namespace {

// G::on_abandon of a goroutine queued in a WaitList, or woken from it but not yet run
// (sched/settle.hpp). Nothing else touches the list meanwhile: goroutines do not run, and plain
// threads wait behind their WakeFence; so `linked` may be read before locking. A woken waiter's
// primitive is touched only to give back what it was granted: one with nothing to give back (a
// WaitGroup, a Once, a Cond) may already be gone, as it could be had the goroutine run.
void settle_sync_wait(void* arg) {
  auto& w = *static_cast<SyncWaiter*>(arg);
  if (!w.linked) {
    if (w.settle && w.settle->woken) w.settle->woken(w);
    return;
  }
  WaitQ q(*w.list);
  WakeList wake;
  q.lock();
  q.remove(&w);
  if (w.settle && w.settle->unqueued) w.settle->unqueued(w, wake);
  q.unlock();
  wake.wake_all();
  if (w.settle_unlocked) w.settle->woken(w);
}

}  // namespace

void WakeList::wake_all() {
  while (SyncWaiter* w = head) {
    head = w->next;  // before waking: w lives on its owner's stack
    w->party.wake();
  }
  tail = &head;
}

void WaitQ::push_back(SyncWaiter* w) {
  w->list = &l_;
  w->next = nullptr;
  w->prev = static_cast<SyncWaiter*>(l_.tail);
  if (w->prev) w->prev->next = w;
  else l_.head = w;
  l_.tail = w;
  w->linked = true;
}

void WaitQ::push_front(SyncWaiter* w) {
  w->list = &l_;
  w->prev = nullptr;
  w->next = static_cast<SyncWaiter*>(l_.head);
  if (w->next) w->next->prev = w;
  else l_.tail = w;
  l_.head = w;
  w->linked = true;
}

void WaitQ::remove(SyncWaiter* w) {
  if (!w->linked) return;
  if (w->prev) w->prev->next = w->next;
  else l_.head = w->next;
  if (w->next) w->next->prev = w->prev;
  else l_.tail = w->prev;
  w->linked = false;
}

void WaitQ::wait(SyncWaiter& w, WaitReason reason, bool lifo) {
  if (lifo) push_front(&w);
  else push_back(&w);
  block(w, reason, nullptr, nullptr);
}

void WaitQ::wait_then(SyncWaiter& w, WaitReason reason, void (*then)(void*), void* arg) {
  push_back(&w);
  block(w, reason, then, arg);
}

void WaitQ::block(SyncWaiter& w, WaitReason reason, void (*then)(void*), void* arg) {
  G* g = w.party.goroutine();
  if (g) {
    g->on_abandon = &settle_sync_wait;
    g->abandon_arg = &w;
  }
  struct Release {
    detail::WaitList* list;
    void (*then)(void*);
    void* arg;
  } release{w.list, then, arg};
  w.party.block_with(reason, [](G*, void* a) {
    const Release r = *static_cast<Release*>(a);  // on the sleeper's stack: read before the unlock
    os::spin_unlock(r.list->locked);
    if (r.then) r.then(r.arg);
    return true;
  }, &release);
  if (g) g->on_abandon = nullptr;
}

void WaitQ::acquire(WaitReason reason, bool lifo, const SettleOps* settle, void* owner) {
  if (tokens() > 0) {
    --tokens();
    unlock();
    return;
  }
  SyncWaiter w(settle, owner);
  wait(w, reason, lifo);  // the releaser hands its token straight to us
}

void sema_acquire(detail::WaitList& l, WaitReason reason, bool lifo, const SettleOps* settle,
                  void* owner) {
  WaitQ q(l);
  q.lock();
  q.acquire(reason, lifo, settle, owner);
}

namespace {

// One release, q's lock held: pays a token owed for a waiter that is gone (owe_release), else
// dequeues the first waiter, returned to be woken after the unlock, else leaves a token.
SyncWaiter* release_locked(WaitQ& q) {
  if (q.tokens() < 0) {
    ++q.tokens();
    return nullptr;
  }
  if (SyncWaiter* w = q.pop_front()) return w;
  ++q.tokens();
  return nullptr;
}

}  // namespace

void sema_release(detail::WaitList& l, bool handoff) {
  WakeFence fence;
  WaitQ q(l);
  q.lock();
  SyncWaiter* w = release_locked(q);
  if (w) w->handed = handoff;
  q.unlock();
  // No yield here, even for a hand-off (Go's semrelease yields): a release is not a scheduling
  // point (README, "No preemption"), and a caller may hold a std::mutex or a thread-local
  // reference across unlock(). A goroutine woken from a worker sits in our runnext and runs at
  // our next scheduling point.
  if (w) w->party.wake();
}

void sema_release_n(detail::WaitList& l, std::uint32_t n) {
  WakeFence fence;
  WaitQ q(l);
  WakeList woken;
  q.lock();
  for (std::uint32_t i = 0; i < n; ++i)
    if (SyncWaiter* w = release_locked(q)) woken.add(w);
  q.unlock();
  woken.wake_all();
}

}  // namespace goro::rt
