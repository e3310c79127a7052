// runtime/sync/waitlist.hpp — the wait queue inside every goro::Mutex, WaitGroup, Cond, ...
//
// A detail::WaitList (goro/sync.hpp) is a spin lock, a FIFO of SyncWaiters and a token count:
// Go's runtime semaphore (sema.go), but embedded in the primitive instead of found through a
// global table by address. SyncWaiters live on the blocked party's stack and follow the parking
// protocol of sched/wait.hpp: enqueue under the list's lock, block, and the lock is released
// once the party is asleep; a waker dequeues under the lock and wakes after releasing it (a
// plain thread inside a WakeFence, sched/settle.hpp).
#pragma once

#include <goro/sync.hpp>

#include "os/spinlock.hpp"
#include "sched/settle.hpp"
#include "sched/wait.hpp"

#include <atomic>

#include <cstdint>

namespace goro::rt {

struct SyncWaiter;
struct WakeList;

// How teardown settles a waiter's call when the runtime abandons its goroutine (sched/settle.hpp):
// as if the call had never been made, so that the primitive is right for its next users. Either
// may be null: nothing to do.
struct SettleOps {
  // Still queued: just unlinked, the list's lock held. Undo what the primitive counts on the
  // waiter's behalf; waiters that this lets through go in `wake`, woken after the unlock. What
  // may take that lock again is left to `woken`, called after the unlock if this sets
  // SyncWaiter::settle_unlocked.
  void (*unqueued)(SyncWaiter& w, WakeList& wake);
  // Dequeued and woken, but it never ran: no lock held. Give back what the waker granted it.
  void (*woken)(SyncWaiter& w);
};

struct SyncWaiter {
  // The calling party: its goroutine, or a plain thread, which is noted as a possible waker.
  explicit SyncWaiter(const SettleOps* how = nullptr, void* of = nullptr)
      : party(current_g()), settle(how), owner(of) {
    note_plain_thread();
  }
  Waiter party;
  detail::WaitList* list = nullptr;
  SyncWaiter* prev = nullptr;
  SyncWaiter* next = nullptr;
  std::int64_t want = 0;          // Semaphore: units asked for; Cond: ticket
  bool linked = false;            // queued (under the list's lock)
  bool handed = false;            // woken by a hand-off (sema_release's `handoff`)
  bool settle_unlocked = false;   // settling: `unqueued` left the rest to `woken` (SettleOps)
  const SettleOps* settle = nullptr;  // null: nothing to undo
  void* owner = nullptr;          // the primitive, for `settle`
};

// Waiters dequeued under a WaitList's lock, to be woken in order once it is released (a woken
// waiter may run at once on another P, and it must not find the list still locked).
struct WakeList {
  SyncWaiter* head = nullptr;
  SyncWaiter** tail = &head;

  void add(SyncWaiter* w) {
    w->next = nullptr;
    *tail = w;
    tail = &w->next;
  }
  void wake_all();
};

class WaitQ {  // operations on a detail::WaitList
 public:
  explicit WaitQ(detail::WaitList& l) : l_(l) {}

  void lock() { os::spin_lock(l_.locked); }
  void unlock() { os::spin_unlock(l_.locked); }

  SyncWaiter* front() const { return static_cast<SyncWaiter*>(l_.head); }
  bool empty() const { return !l_.head; }
  std::int32_t& tokens() { return l_.tokens; }
  // A release already on its way is for a waiter that is gone (settled at teardown): the next
  // release wakes nobody and leaves no token.
  void owe_release() { --l_.tokens; }

  void push_back(SyncWaiter* w);
  void push_front(SyncWaiter* w);
  void remove(SyncWaiter* w);
  SyncWaiter* pop_front() {
    SyncWaiter* w = front();
    if (w) remove(w);
    return w;
  }
  void take_all(WakeList& out) {
    while (SyncWaiter* w = pop_front()) out.add(w);
  }

  // With the lock held: enqueues the caller as `w` (at the front if `lifo`) and blocks until
  // woken. Returns with the lock released.
  void wait(SyncWaiter& w, WaitReason reason, bool lifo = false);
  // As wait(), and once the caller is asleep and the lock released, `then(arg)` (Cond::wait
  // unlocks the user's mutex there: queued before that, it can miss no signal).
  void wait_then(SyncWaiter& w, WaitReason reason, void (*then)(void*), void* arg);
  // With the lock held: takes a token that a release left ahead of the caller, or else waits
  // (as wait()) until a release hands it one — Go's semacquire. Returns with the lock released.
  void acquire(WaitReason reason, bool lifo, const SettleOps* settle, void* owner);

 private:
  void block(SyncWaiter& w, WaitReason reason, void (*then)(void*), void* arg);  // w is queued
  detail::WaitList& l_;
};

// Go's semacquire / semrelease on a WaitList. `settle`, `owner`: see SyncWaiter.
void sema_acquire(detail::WaitList& l, WaitReason reason, bool lifo = false,
                  const SettleOps* settle = nullptr, void* owner = nullptr);
// `handoff`: the woken waiter is handed ownership (a starving Mutex's hand-off), which settling
// must know (SyncWaiter::handed). It runs at the caller's next scheduling point, not before
// sema_release returns.
void sema_release(detail::WaitList& l, bool handoff = false);
// sema_release n times under one hold of the lock, waking after it: the first waiter to run may
// destroy the primitive (a WaitGroup at zero), so no release may follow a wake-up.
void sema_release_n(detail::WaitList& l, std::uint32_t n);

}  // namespace goro::rt
