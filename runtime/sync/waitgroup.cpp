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
  // A waiter still queued is counted in the state: uncount it. Unless the counter has already
  // reached zero (the waiter count was reset with it): then the add() that did it is about to
  // release a token for each waiter it counted, this one included, and that one must go to nobody.
  static void unqueued(rt::SyncWaiter& w, rt::WakeList&) {
    auto& state = static_cast<WaitGroup*>(w.owner)->state_;
    std::uint64_t s = state.load(std::memory_order_relaxed);
    for (;;) {
      if ((s >> 32) == 0 || static_cast<std::uint32_t>(s) == 0) {
        rt::WaitQ(*w.list).owe_release();  // the list's lock is held
        return;
      }
      if (state.compare_exchange_weak(s, s - 1, std::memory_order_relaxed)) return;
    }
  }
  // A woken waiter took its token, and the state was reset before it: nothing to give back.
  static constexpr rt::SettleOps settle{&unqueued, nullptr};
};

void WaitGroup::add(std::int64_t delta) {
  using namespace rt;
  if (delta < INT32_MIN || delta > INT32_MAX)
    throw std::invalid_argument("goro: WaitGroup::add of " + std::to_string(delta) + " is out of range");
  const std::uint64_t shifted = static_cast<std::uint64_t>(delta) << 32;
  // A CAS, not Go's fetch_add-then-check: a negative counter is refused before it is published.
  // Published and undone, a wait() in between would take the transient counter for nonzero,
  // register as a waiter, and never be woken (nobody brings the counter to zero again).
  std::uint64_t old = state_.load(std::memory_order_relaxed);
  std::uint64_t state;
  do {
    state = old + shifted;
    if (static_cast<std::int32_t>(state >> 32) < 0)  // the group stays usable
      throw std::logic_error("goro: negative WaitGroup counter (done() called more often than add())");
  } while (!state_.compare_exchange_weak(old, state, std::memory_order_acq_rel, std::memory_order_relaxed));
  const auto counter = static_cast<std::int32_t>(state >> 32);
  const auto waiters = static_cast<std::uint32_t>(state);
  if (waiters != 0 && delta > 0 && counter == delta)
    throw std::logic_error("goro: WaitGroup misuse: add() called concurrently with wait() at zero");
  // A plain thread that adds will call done() later; one that calls done() may call it again.
  note_plain_thread();
  // Zero with waiters lasts only from the CAS of the add() that reached it to its store below:
  // an add(0) seeing it there must leave the release to that add(), or the waiters get two.
  if (counter > 0 || waiters == 0 || delta == 0) return;
  // Counter is 0 and there are waiters: nobody may add or wait in between (misuse otherwise).
  if (state_.load(std::memory_order_relaxed) != state)
    throw std::logic_error("goro: WaitGroup misuse: add() called concurrently with wait()");
  // Release: a wait() that comes later and reads this 0 returns at once, and must see what this
  // add()'s caller (and every earlier done()) wrote; a plain store is not in the CAS's release
  // sequence.
  state_.store(0, std::memory_order_release);
  // All at once: the first waiter woken may destroy the group (the counter is zero), while a
  // release per waiter would still touch it for the others.
  sema_release_n(sema_, waiters);
}

void WaitGroup::wait() {
  using namespace rt;
  std::uint64_t state = state_.load(std::memory_order_acquire);
  if ((state >> 32) == 0) {
    note_plain_thread();
    return;
  }
  // The group may be destroyed as soon as the counter reaches zero, before its waiters return.
  // Go counts a waiter, then queues it (its collector keeps the group alive meanwhile); here the
  // add() that reaches zero could release every waiter and someone destroy the group in that
  // gap. So a waiter counts itself and queues under the list's lock, which that add() needs to
  // release it; and once woken it touches nothing of *this (nor checks, as Go does, for a reuse
  // before wait() returned).
  WaitQ q(sema_);
  q.lock();
  do {
    if ((state >> 32) == 0) {
      q.unlock();
      note_plain_thread();
      return;
    }
  } while (!state_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel));
  q.acquire(WaitReason::sync_waitgroup, false, &WaitGroupAccess::settle, this);
}

}  // namespace goro
