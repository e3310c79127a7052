// runtime/sync/waitgroup.cpp — goro::WaitGroup: Go's sync.WaitGroup (sync/waitgroup.go).
//
// state: the counter in the high 32 bits, the number of waiters in the low 32 — one atomic, so
// "counter reached zero" and "these are the waiters to wake" are read together. Whoever brings
// the counter to zero with waiters present resets the state to 0 and releases each waiter once.
#include "sync/waitlist.hpp"

#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace goro {

struct WaitGroupAccess {
  // A queued waiter whose goroutine the runtime abandoned (sync/waitlist.hpp) is still counted
  // in the state: left there, the add() that brings the counter to zero would release a token
  // for it, and the next wait() would take that token and return early.
  static void abandoned(rt::SyncWaiter& w) {
    auto& state = static_cast<WaitGroup*>(w.owner)->state_;
    std::uint64_t s = state.load(std::memory_order_relaxed);
    while (static_cast<std::uint32_t>(s) != 0 && (s >> 32) != 0 &&
           !state.compare_exchange_weak(s, s - 1, std::memory_order_relaxed)) {
    }
  }
};

void WaitGroup::add(std::int64_t delta) {
  using namespace rt;
  if (delta < INT32_MIN || delta > INT32_MAX)
    throw std::invalid_argument("goro: WaitGroup::add of " + std::to_string(delta) + " is out of range");
  const std::uint64_t shifted = static_cast<std::uint64_t>(delta) << 32;
  const std::uint64_t state = state_.fetch_add(shifted, std::memory_order_acq_rel) + shifted;
  const auto counter = static_cast<std::int32_t>(state >> 32);
  const auto waiters = static_cast<std::uint32_t>(state);
  if (counter < 0) {
    state_.fetch_sub(shifted, std::memory_order_relaxed);  // undo: the group stays usable
    throw std::logic_error("goro: negative WaitGroup counter (done() called more often than add())");
  }
  if (waiters != 0 && delta > 0 && counter == delta)
    throw std::logic_error("goro: WaitGroup misuse: add() called concurrently with wait() at zero");
  if (delta > 0) note_plain_thread();  // a plain thread that adds will call done() later
  if (counter > 0 || waiters == 0) return;
  // Counter is 0 and there are waiters: nobody may add or wait in between (misuse otherwise).
  if (state_.load(std::memory_order_relaxed) != state)
    throw std::logic_error("goro: WaitGroup misuse: add() called concurrently with wait()");
  state_.store(0, std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < waiters; ++i) sema_release(sema_);
}

void WaitGroup::wait() {
  using namespace rt;
  std::uint64_t state = state_.load(std::memory_order_acquire);
  for (;;) {
    if ((state >> 32) == 0) return;
    if (state_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel)) {
      sema_acquire(sema_, WaitReason::sync_waitgroup, false, &WaitGroupAccess::abandoned, this);
      if (state_.load(std::memory_order_acquire) != 0)
        throw std::logic_error("goro: WaitGroup is reused before the previous wait() has returned");
      return;
    }
  }
}

}  // namespace goro
