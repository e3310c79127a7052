// runtime/sync/semaphore.cpp — goro::Semaphore: a weighted semaphore with FIFO service
// (golang.org/x/sync/semaphore). Waiters are served strictly in arrival order: while the oldest
// cannot be satisfied, younger ones wait too, so a large request is not starved by small ones.
#include "sync/waitlist.hpp"

#include <stdexcept>

namespace goro {

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
  SyncWaiter w(current_g());
  if (!w.party.is_goroutine()) note_plain_thread();
  w.want = n;
  q.wait(w, WaitReason::semaphore);  // release() takes our units for us before waking us
}

bool Semaphore::try_acquire(std::int64_t n) {
  rt::WaitQ q(waiters_);
  q.lock();
  const bool ok = n >= 0 && size_ - used_ >= n && q.empty();
  if (ok) used_ += n;
  q.unlock();
  if (ok) rt::note_plain_thread();
  return ok;
}

void Semaphore::release(std::int64_t n) {
  using namespace rt;
  WaitQ q(waiters_);
  q.lock();
  if (n < 0 || n > used_) {
    q.unlock();
    throw std::logic_error("goro: Semaphore::release of more units than are held");
  }
  used_ -= n;
  WakeList woken;
  while (SyncWaiter* w = q.front()) {
    if (size_ - used_ < w->want) break;  // the oldest does not fit: everyone behind it waits
    used_ += w->want;
    q.remove(w);
    woken.add(w);
  }
  q.unlock();
  woken.wake_all();
}

}  // namespace goro
