// runtime/sync/waitlist.cpp
#include "sync/waitlist.hpp"

#include <goro/runtime.hpp>

namespace goro::rt {

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
  w->linked.store(true, std::memory_order_relaxed);
}

void WaitQ::push_front(SyncWaiter* w) {
  w->list = &l_;
  w->prev = nullptr;
  w->next = static_cast<SyncWaiter*>(l_.head);
  if (w->next) w->next->prev = w;
  else l_.tail = w;
  l_.head = w;
  w->linked.store(true, std::memory_order_relaxed);
}

void WaitQ::remove(SyncWaiter* w) {
  if (!w->linked.load(std::memory_order_relaxed)) return;
  if (w->prev) w->prev->next = w->next;
  else l_.head = w->next;
  if (w->next) w->next->prev = w->prev;
  else l_.tail = w->prev;
  w->linked.store(false, std::memory_order_relaxed);
}

void WaitQ::wait(SyncWaiter& w, WaitReason reason, bool lifo) {
  if (lifo) push_front(&w);
  else push_back(&w);
  G* g = w.party.goroutine();
  if (g) {
    // If the runtime stops and abandons this goroutine, unlink it: the primitive may outlive it.
    // Not if it was woken and has not run since: it is unlinked already, and the primitive may
    // be gone by now. `linked` is read unlocked first: only a plain thread can touch the list
    // during teardown, and it can only unlink (so it is read again under the lock).
    g->on_abandon = [](void* arg) {
      auto* waiter = static_cast<SyncWaiter*>(arg);
      if (!waiter->linked.load(std::memory_order_relaxed)) return;
      WaitQ q(*waiter->list);
      q.lock();
      if (waiter->linked.load(std::memory_order_relaxed)) {
        q.remove(waiter);
        if (waiter->abandoned) waiter->abandoned(*waiter);
      }
      q.unlock();
    };
    g->abandon_arg = &w;
  }
  w.party.block_with(reason, [](G*, void* list) {
    os::spin_unlock(static_cast<detail::WaitList*>(list)->locked);
    return true;
  }, w.list);
  if (g) g->on_abandon = nullptr;
}

void sema_acquire(detail::WaitList& l, WaitReason reason, bool lifo,
                  void (*abandoned)(SyncWaiter&), void* owner) {
  WaitQ q(l);
  q.lock();
  if (q.tokens() > 0) {
    --q.tokens();
    q.unlock();
    return;
  }
  SyncWaiter w(current_g());
  if (!w.party.is_goroutine()) note_plain_thread();
  w.abandoned = abandoned;
  w.owner = owner;
  q.wait(w, reason, lifo);  // the releaser hands its token straight to us
}

void sema_release(detail::WaitList& l, bool handoff) {
  WaitQ q(l);
  q.lock();
  SyncWaiter* w = q.pop_front();
  if (!w) {
    ++q.tokens();
    q.unlock();
    return;
  }
  q.unlock();
  const bool run_it_now = handoff && w->party.is_goroutine() && current_g();
  w->party.wake();
  if (run_it_now) goro::yield();  // the woken goroutine is in our runnext: let it go first
}

}  // namespace goro::rt
