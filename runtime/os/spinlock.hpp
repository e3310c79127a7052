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

// Contended: back off exponentially before looking again. Under contention from several cores
// this lets the holder's core take the lock again while the line is still in its cache, instead
// of moving the line on every acquisition (a channel shared by goroutines on every P). The longer
// the longest wait, the longer one core keeps the line: chan_mpmc at procs 2 (Intel Xeon, a
// pause ~9 ns) went from medians of 69-79 ns/message with waits of up to 64 pauses to 49-60
// with 1024 (series of 9 interleaved runs; 2048 gave no more). 1024 pauses (~10 µs, about a
// futex wake's cost) also bound how late a waiter notices a free lock.
[[gnu::noinline, gnu::cold]] inline void spin_lock_contended(std::atomic<bool>& locked) {
  constexpr int kMaxBackoff = 1024;         // pauses
  constexpr int kPausesBeforeYield = 8192;  // far longer than any guarded section
  int backoff = 1, paused = 0;
  for (;;) {
    for (int i = 0; i < backoff; ++i) _mm_pause();
    if (paused < kPausesBeforeYield) paused += backoff;
    else ::sched_yield();  // the holder was preempted: let it run
    if (backoff < kMaxBackoff) backoff <<= 1;
    if (!locked.load(std::memory_order_relaxed) && !locked.exchange(true, std::memory_order_acquire)) return;
  }
}

// The protocol on a bare flag, for locks embedded in public types (goro/sync.hpp's WaitList).
// The uncontended exchange is inline; the loop is not, so that every caller stays small.
inline void spin_lock(std::atomic<bool>& locked) {
  if (locked.exchange(true, std::memory_order_acquire)) [[unlikely]] spin_lock_contended(locked);
}

inline void spin_unlock(std::atomic<bool>& locked) { locked.store(false, std::memory_order_release); }

class SpinLock {
 public:
  void lock() { spin_lock(locked_); }
  bool try_lock() {
    return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() { spin_unlock(locked_); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace goro::rt::os
