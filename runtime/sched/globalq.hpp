// runtime/sched/globalq.hpp — the global run queue.
//
// Holds what no P's local queue holds: the overflow of a full local ring (half of it at a time),
// goroutines spawned or readied by plain threads, and goroutines leaving a blocking() call that
// found no free P. Every P looks here when its own queue is empty, and every kGlobalCheckTicks
// scheduling ticks even when it is not (schedule.cpp), so nothing waits here forever.
//
// A growable FIFO ring of G pointers under a short lock, as Go's sched.runq is a locked list.
// Batches move in and out with one memcpy; no G record is touched under the lock (they are
// usually cold in this core's cache: another P wrote them). It is off the hot path — a P comes
// here once per 61 slices, or once per batch of up to 128 goroutines — so the lock is short and
// rarely contended. Growing allocates the new ring, and frees the old, without the lock: a
// goroutine spawning a million others grows it to 8 MiB, milliseconds of page faults that every
// P looking for work would otherwise spin through. (moodycamel's lock-free queue was the first
// candidate: it synchronizes through std::atomic_thread_fence, which ThreadSanitizer cannot see,
// so every hand-off through it reads as a race and the sanitized test suite could not vouch for
// anything downstream.)
//
// `size_` can be read without the lock. It changes with seq_cst read-modify-writes after the
// ring does, which makes a push the StoreLoad barrier between "work was submitted" and
// "is anyone spinning?" (idle.cpp).
#pragma once

#include "os/spinlock.hpp"
#include "sched/g.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

namespace goro::rt {

class GlobalQueue {
 public:
  GlobalQueue() : ring_(std::make_unique<G*[]>(kInitialCapacity)), cap_(kInitialCapacity) {}

  void push(G* g) { push_batch(&g, 1); }

  void push_batch(G* const* gs, std::size_t n) {
    std::unique_lock lock(mu_);
    while (count_ + n > cap_) grow(lock, count_ + n);  // others may push while it allocates
    const std::size_t cap = cap_;
    std::size_t tail = (head_ + count_) % cap;
    for (std::size_t i = 0; i < n; ++i, tail = tail + 1 == cap ? 0 : tail + 1) ring_[tail] = gs[i];
    count_ += n;
    size_.fetch_add(n, std::memory_order_seq_cst);
  }

  // Takes up to `max` goroutines, oldest first.
  std::size_t pop_batch(G** out, std::size_t max) {
    if (size_.load(std::memory_order_acquire) == 0) return 0;
    std::lock_guard lock(mu_);
    const std::size_t n = count_ < max ? count_ : max;
    const std::size_t cap = cap_;
    for (std::size_t i = 0; i < n; ++i, head_ = head_ + 1 == cap ? 0 : head_ + 1) out[i] = ring_[head_];
    count_ -= n;
    size_.fetch_sub(n, std::memory_order_seq_cst);
    taken_.store(taken_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    return n;
  }

  std::size_t size() const { return size_.load(std::memory_order_seq_cst); }
  bool empty() const { return size() == 0; }
  // For the monitor: has anyone taken work from here lately? (Only ever grows.)
  std::uint64_t taken_so_far() const { return taken_.load(std::memory_order_relaxed); }

 private:
  static constexpr std::size_t kInitialCapacity = 1024;

  // Called and returns with `lock` held, but releases it meanwhile: the caller checks again.
  void grow(std::unique_lock<os::SpinLock>& lock, std::size_t need) {
    std::size_t cap = cap_;
    while (cap < need) cap *= 2;
    lock.unlock();
    auto ring = std::make_unique<G*[]>(cap);  // zeroed: its pages are faulted in here
    lock.lock();
    if (cap > cap_) {  // else another push grew it meanwhile
      for (std::size_t i = 0; i < count_; ++i) ring[i] = ring_[(head_ + i) % cap_];
      ring_.swap(ring);
      cap_ = cap;
      head_ = 0;
    }
    lock.unlock();
    ring.reset();  // the smaller ring
    lock.lock();
  }

  os::SpinLock mu_;
  std::unique_ptr<G*[]> ring_;
  std::size_t cap_;
  std::size_t head_ = 0, count_ = 0;
  std::atomic<std::size_t> size_{0};
  std::atomic<std::uint64_t> taken_{0};  // written under mu_
};

}  // namespace goro::rt
