// runtime/os/spinlock.hpp — the lock of channels, run-queue pools and the global queue.
//
// Every section it guards is a few dozen instructions (link a waiter, copy a value, memcpy a
// batch of pointers). Acquiring costs one atomic exchange; releasing is a plain release store —
// no read-modify-write, no futex wake to check for — which matters on the channel hand-off path
// where a lock is taken and released twice per message. A waiter spins with `pause`, then
// yields its thread: holders are only ever preempted, never blocked, while holding it.
#pragma once

#include <immintrin.h>
#include <sched.h>

#include <atomic>

namespace goro::rt::os {

class SpinLock {
 public:
  void lock() {
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
    int spins = 0;
    for (;;) {
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins < kSpinsBeforeYield) _mm_pause();
        else ::sched_yield();  // the holder was preempted: let it run
      }
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
    }
  }

  bool try_lock() {
    return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
  }

  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  // ~1000 pauses (a few µs) is far longer than any section this lock guards.
  static constexpr int kSpinsBeforeYield = 1000;
  std::atomic<bool> locked_{false};
};

}  // namespace goro::rt::os
