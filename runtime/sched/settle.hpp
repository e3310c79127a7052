// runtime/sched/settle.hpp — settling the calls of goroutines that a stopping runtime abandons.
//
// When main returns, goroutines still blocked in a primitive, or woken from it but not yet run,
// are abandoned: they never run again and their stacks go. The primitive may outlive the run (a
// later run or a plain thread uses it next), so teardown settles each such call, through
// G::on_abandon, as if it had never been made: a waiter still queued is unlinked and uncounted,
// and one already woken gives back what its waker granted it (a lock, a reader's place,
// semaphore units). sync/waitlist.hpp and chan/ say how for each primitive; the README says
// what cannot be undone (a value handed to a receiver, a Cond signal, a lock already taken).
//
// Plain threads may use the same primitives meanwhile. A plain thread that wakes a waiter
// dequeues it under the primitive's lock and wakes it after releasing the lock, reading the
// waiter (on the waiting goroutine's stack) in between; a channel send copies its value into
// that stack. Settling inside that window would unmap the stack under the thread, or see a
// waiter half taken. So a plain thread holds a WakeFence from before it dequeues until it has
// woken: settling starts only once no fence is held, and a fence taken while settling runs
// waits for it to end. Goroutines need no fence: none runs while teardown settles.
#pragma once

#include "sched/m.hpp"

namespace goro::rt {

class WakeFence {
 public:
  // `m`: the caller's current_m(), if it has it at hand; null means a plain thread. Free for
  // a goroutine: enter() and leave() are static so that held_ can live in a register.
  explicit WakeFence(M* m) : held_(m == nullptr) {
    if (held_) [[unlikely]] enter();
  }
  WakeFence() : held_(!on_worker_thread()) {
    if (held_) [[unlikely]] enter();
  }
  ~WakeFence() {
    if (held_) [[unlikely]] leave();
  }
  WakeFence(const WakeFence&) = delete;
  WakeFence& operator=(const WakeFence&) = delete;

  // Before the caller blocks: a fence must never be held while asleep.
  void release() {
    if (held_) leave();
    held_ = false;
  }

 private:
  static void enter();
  static void leave();
  bool held_;
};

// Teardown (run.cpp), once nothing runs: waits for held fences, then calls on_abandon for every
// abandoned goroutine that has one. Returns whether any started goroutine was abandoned;
// goroutines that never started have their functions destroyed.
bool settle_abandoned();

}  // namespace goro::rt
