// runtime/sched/globalq.hpp — the global run queue.
//
// Holds what no P's local queue holds: the overflow of a full local ring (half of it at a time),
// goroutines spawned or readied by plain threads, and goroutines leaving a blocking() call that
// found no free P. Every P looks here when its own queue is empty, and every kGlobalCheckTicks
// scheduling ticks even when it is not (schedule.cpp), so nothing waits here forever.
//
// As in Go (sched.runq), a FIFO list linked through G::link under one lock. It is off the hot
// path — a P touches it once per 61 slices, or once per 128 goroutines moved in a batch — so
// the lock is uncontended in practice, and a batch is linked outside the lock and spliced in
// O(1). (moodycamel's lock-free queue was the first candidate; it synchronizes through
// std::atomic_thread_fence, which ThreadSanitizer cannot see, so every hand-off through it
// reads as a race and the sanitized test suite could not vouch for anything downstream.)
//
// `size_` can be read without the lock. It changes with seq_cst read-modify-writes after the
// list does, which makes a push the StoreLoad barrier between "work was submitted" and
// "is anyone spinning?" (idle.cpp).
#pragma once

#include "sched/g.hpp"

#include <atomic>
#include <cstddef>
#include <mutex>

namespace goro::rt {

class GlobalQueue {
 public:
  void push(G* g) { push_batch(&g, 1); }

  void push_batch(G* const* gs, std::size_t n) {
    for (std::size_t i = 0; i + 1 < n; ++i) gs[i]->link = gs[i + 1];
    gs[n - 1]->link = nullptr;
    std::lock_guard lock(mu_);
    if (tail_) tail_->link = gs[0];
    else head_ = gs[0];
    tail_ = gs[n - 1];
    size_.fetch_add(n, std::memory_order_seq_cst);
  }

  // Takes up to `max` goroutines, oldest first.
  std::size_t pop_batch(G** out, std::size_t max) {
    if (size_.load(std::memory_order_acquire) == 0) return 0;
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (; n < max && head_; ++n) {
      out[n] = head_;
      head_ = head_->link;
    }
    if (!head_) tail_ = nullptr;
    size_.fetch_sub(n, std::memory_order_seq_cst);
    return n;
  }

  std::size_t size() const { return size_.load(std::memory_order_seq_cst); }
  bool empty() const { return size() == 0; }

 private:
  std::mutex mu_;
  G* head_ = nullptr;
  G* tail_ = nullptr;
  std::atomic<std::size_t> size_{0};
};

}  // namespace goro::rt
