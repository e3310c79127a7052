// runtime/sched/wait.hpp — blocking the current party, goroutine or plain thread, alike.
//
// Every goro primitive can be used from goroutines and from plain OS threads. A Waiter, living
// on the waiting party's own stack, hides the difference:
//   * a goroutine parks (park.hpp): its worker runs something else meanwhile;
//   * a plain thread sleeps on a futex word inside the Waiter itself. The waker stores to that
//     word and then futex-wakes its address; if the sleeper has already returned (it saw the
//     store) the wake hits an address nobody waits on, which is harmless. So a waker never
//     touches a thread-owned object after the sleeper may have gone.
//
// Protocol (park.hpp's, for both): with the primitive's lock held, enqueue the Waiter where the
// waker will find it, then block(lock): the lock is released only once the party is safely
// asleep. The waker, holding the same lock, dequeues it, hands over the result, releases the
// lock, and calls wake() — last, because after wake() the Waiter may cease to exist.
#pragma once

#include "os/futex.hpp"
#include "os/spinlock.hpp"
#include "sched/park.hpp"

#include <atomic>
#include <cstdint>

namespace goro::rt {

class Waiter {
 public:
  explicit Waiter(G* self) : g_(self) {}  // self: current_g() — null on a plain thread
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  bool is_goroutine() const { return g_ != nullptr; }
  G* goroutine() const { return g_; }

  // Releases `lock` (held by the caller) once asleep; returns after wake().
  void block(os::SpinLock& lock, WaitReason reason) {
    block_with(reason, [](G*, void* l) {
      static_cast<os::SpinLock*>(l)->unlock();
      return true;
    }, &lock);
  }

  // As block(), with any release action: `unlock(g, arg)` (see park.hpp; g is null for a plain
  // thread). If it returns false the wait is cancelled: the party does not sleep.
  void block_with(WaitReason reason, UnlockFn unlock, void* arg);
  // As block_with, inside the caller's RuntimeSection (see park_on).
  void block_with(RuntimeSection& section, WaitReason reason, UnlockFn unlock, void* arg);

  void wake() {
    if (g_) ready(g_);
    else wake_thread();
  }
  // As wake, inside a RuntimeSection of the waker's M `waker` (null: a plain thread).
  void wake(M* waker) {
    if (g_) ready_on(waker, g_);
    else wake_thread();
  }

 private:
  void wake_thread() {
    thread_state_.store(1, std::memory_order_release);
    os::futex_wake(thread_state_, 1);
  }

  G* g_;
  std::atomic<std::uint32_t> thread_state_{0};
};

// Blocks the current party forever (a nil channel, an empty select): a goroutine parks with
// `reason` and is never readied; a plain thread sleeps for good.
[[noreturn]] void block_forever(WaitReason reason);

// A plain thread about to use a goro primitive: counts it as a possible waker for deadlock
// detection while a runtime runs (see spawn.cpp). No-op on a worker thread (a goroutine, or one
// inside blocking()) or without a runtime; on a worker it costs one thread-local read, so the
// lock-free fast paths may call it too.
void note_plain_thread_slow();
inline void note_plain_thread() {
  if (!on_worker_thread()) [[unlikely]] note_plain_thread_slow();
}

}  // namespace goro::rt
