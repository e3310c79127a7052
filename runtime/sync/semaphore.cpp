// runtime/sync/semaphore.cpp — goro::Semaphore: a weighted semaphore with FIFO service
// (golang.org/x/sync/semaphore). Waiters are served strictly in arrival order: while the oldest
// cannot be satisfied, younger ones wait too, so a large request is not starved by small ones.
#include "sync/waitlist.hpp"

#include <stdexcept>

namespace goro {

// Settling waiters that a stopping runtime abandons (sync/waitlist.hpp).
struct SemaphoreAccess {
  // Lets in the waiters at the front that fit now, oldest first (x/sync's notifyWaiters). The
  // list's lock is held.
  static void admit(Semaphore& s, rt::WakeList& wake) {
    rt::WaitQ q(s.waiters_);
    while (rt::SyncWaiter* w = q.front()) {
      if (s.size_ - s.used_ < w->want) break;  // the oldest does not fit: everyone behind it waits
      s.used_ += w->want;
      q.remove(w);
      wake.add(w);
    }
  }
  // Gone from the front, it may have been what held the waiters behind it back.
  static void unqueued(rt::SyncWaiter& w, rt::WakeList& wake) { admit(*static_cast<Semaphore*>(w.owner), wake); }
  // Its acquire() never returned: give its units back.
  static void woken(rt::SyncWaiter& w) { static_cast<Semaphore*>(w.owner)->release(w.want); }
  static constexpr rt::SettleOps settle{&unqueued, &woken};
};

Semaphore::Semaphore(std::int64_t n) : size_(n) {
  if (n < 0) throw std::invalid_argument("goro: Semaphore size must not be negative");
}

void Semaphore::acquire(std::int64_t n) {
  using namespace rt;
  if (n < 0) throw std::invalid_argument("goro: Semaphore::acquire of a negative amount");
  if (n > size_)
    throw std::invalid_argument("goro: Semaphore::acquire of more units than the semaphore has");
  WaitQ q(waiters_);
  q.lock();
  if (size_ - used_ >= n && q.empty()) {
    used_ += n;
    q.unlock();
    note_plain_thread();  // a plain thread holding units may wake a waiter later
    return;
  }
  SyncWaiter w(&SemaphoreAccess::settle, this);
  w.want = n;
  q.wait(w, WaitReason::semaphore);  // release() takes our units for us before waking us
}

bool Semaphore::try_acquire(std::int64_t n) {
  rt::WaitQ q(waiters_);
  q.lock();
  const bool ok = n >= 0 && size_ - used_ >= n && q.empty();
  if (ok) used_ += n;
  q.unlock();
  rt::note_plain_thread();  // holding units, or may come back for them
  return ok;
}

void Semaphore::release(std::int64_t n) {
  using namespace rt;
  if (n < 0) throw std::invalid_argument("goro: Semaphore::release of a negative amount");
  note_plain_thread();  // a plain thread that releases may release again, waking a waiter then
  WakeFence fence;
  WaitQ q(waiters_);
  q.lock();
  if (n > used_) {
    q.unlock();
    throw std::logic_error("goro: Semaphore::release of more units than are held");
  }
  used_ -= n;
  WakeList woken;
  SemaphoreAccess::admit(*this, woken);
  q.unlock();
  woken.wake_all();
}

}  // namespace goro
