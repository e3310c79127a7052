// runtime/sync/mutex.cpp — goro::Mutex: Go's sync.Mutex (sync/mutex.go), goroutine-aware.
//
// state: bit 0 locked, bit 1 woken (an unlocker has woken a waiter, or a spinner is about to
// take the lock: unlockers need not wake anyone else), bit 2 starving, bits 3.. the number of
// waiters. Waiters block in `sema_`, a FIFO (sync/waitlist.hpp).
//
// Normal mode: a woken waiter competes with newly arriving goroutines, which usually win (they
// are already running, with the mutex's line in their cache): good throughput. A waiter that
// loses is queued at the front. A waiter that has waited more than kStarvationNs switches the
// mutex to starvation mode: unlock then hands ownership directly to the waiter at the head of
// the queue, and new arrivals queue at the tail without trying. The last waiter, or one that
// waited less than kStarvationNs, switches back. This bounds tail latency (Go's reasoning).
// Unlike Go's, the unlocker does not yield to the waiter it hands the mutex to: unlock is no
// scheduling point (README, "No preemption"); the waiter runs at the unlocker's next one.
//
// Spinning: a goroutine that finds the mutex locked spins briefly — at most kSpinRounds rounds
// — only while the holder is a goroutine running on a worker (not parked, not a plain thread
// that may be descheduled), there is more than one P, and its own P has nothing else to run.
#include "sync/waitlist.hpp"

#include "os/clock.hpp"
#include "sched/sched.hpp"
#include "sync/fatal.hpp"

#include <immintrin.h>

namespace goro {
namespace {

using namespace rt;

constexpr std::int32_t kLocked = 1, kWoken = 2, kStarving = 4, kWaiterShift = 3;
constexpr std::int64_t kStarvationNs = 1'000'000;  // Go's starvationThresholdNs
constexpr int kSpinRounds = 4;                     // Go's active_spin
constexpr int kPausesPerRound = 30;                // Go's active_spin_cnt

bool can_spin(int round, void* owner) {
  if (round >= kSpinRounds) return false;
  M* m = current_m();
  // A plain thread blocks at once. It looks at nothing of the scheduler first: a run may be
  // starting on another thread, writing sched.nprocs (a worker's run has written it before).
  if (!m || !m->curg || sched.nprocs <= 1) return false;
  // The owner may be a G of an earlier run (the mutex outlived it, locked): its record is still
  // there (sched/gpool.hpp), free or reused, so this merely answers false, or true for a while.
  if (!owner || !detail::goroutine_running(owner)) return false;
  // No RuntimeSection: only this thread writes m->p, and if the monitor takes the P meanwhile
  // the answer is merely stale for one round of spinning.
  P* p = m->p;
  return p && p->runq.empty();
}

// A waiter that a starving unlock handed the mutex to takes it: the state says locked-by-
// nobody-yet plus its waiter count (`old`). Starvation mode ends if the waiter is not starving
// itself or is the last one.
void take_handed_over(std::atomic<std::int32_t>& state, std::int32_t old, bool starving) {
  std::int32_t delta = kLocked - (1 << kWaiterShift);
  if (!starving || (old >> kWaiterShift) == 1) delta -= kStarving;
  state.fetch_add(delta, std::memory_order_acquire);
}

}  // namespace

namespace detail {

void* current_goroutine() noexcept { return rt::current_g(); }

void note_plain_thread() noexcept { rt::note_plain_thread(); }

bool goroutine_running(void* g) noexcept {
  return static_cast<rt::G*>(g)->state() == rt::GStatus::running;
}

}  // namespace detail

struct MutexAccess {
  static void wait(Mutex& m, bool lifo) { sema_acquire(m.sema_, WaitReason::sync_mutex, lifo, &settle, &m); }

  // Settling waiters that a stopping runtime abandons (sync/waitlist.hpp). One still queued is
  // in the waiter count: uncount it. (An unlock that has counted it out already, to wake it, is
  // not in the middle of that: unlock_slow holds a WakeFence.) With no waiter left and the mutex
  // locked, starvation mode ends: otherwise the next unlock hands the mutex to nobody. (A waiter
  // handed the mutex but not yet run is still counted, so none is pending.)
  //
  // With no waiter left and the mutex unlocked, it stays starving. A starving unlock released
  // it, for the head of the queue, and its hand-off is still to come: a plain thread's unlock()
  // releases before unlock_slow takes the fence (a goroutine's has no scheduling point between).
  // Had starvation ended, that hand-off would leave a token for nobody, which the next waiter
  // would take unwoken while counting itself twice (it never gives the count back). Starving,
  // the mutex stays handed over: the next waiter takes the token as its hand-off, and so does
  // try_lock, once the token is there (the state is then kStarving alone, see take_unclaimed).
  static void unqueued(SyncWaiter& w, WakeList&) {
    auto& state = static_cast<Mutex*>(w.owner)->state_;
    std::int32_t old = state.load(std::memory_order_relaxed);
    std::int32_t next;
    do {
      next = old - (1 << kWaiterShift);
      if ((next >> kWaiterShift) == 0 && (next & kLocked)) next &= ~kStarving;
    } while (!state.compare_exchange_weak(old, next, std::memory_order_relaxed));
  }
  // try_lock on a mutex that is unlocked, starving and waited for by nobody: handed over to a
  // waiter that teardown settled (unqueued above). Takes it if the hand-off's token has come,
  // under the list's lock, so that no waiter takes the token too: a waiter counts itself first,
  // and then the CAS fails.
  static bool take_unclaimed(Mutex& m) {
    WaitQ q(m.sema_);
    q.lock();
    std::int32_t unclaimed = kStarving;
    const bool took =
        q.tokens() > 0 && m.state_.compare_exchange_strong(unclaimed, kLocked, std::memory_order_acquire);
    if (took) --q.tokens();
    q.unlock();
    return took;
  }
  // One that an unlock woke took the duty to clear kWoken with it: while kWoken is set no unlock
  // wakes anyone. Clear it, and wake the next waiter if the mutex is free. One that a starving
  // unlock handed the mutex to owns it: take it, as lock_slow would, and unlock.
  static void woken(SyncWaiter& w) {
    auto& m = *static_cast<Mutex*>(w.owner);
    if (w.handed) {
      take_handed_over(m.state_, m.state_.load(std::memory_order_relaxed), true);
      m.unlock();
      return;
    }
    m.wake_waiter(m.state_.fetch_and(~kWoken, std::memory_order_relaxed) & ~kWoken);
  }
  static constexpr SettleOps settle{&unqueued, &woken};
};

bool Mutex::try_lock() {
  std::int32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (old == kStarving && MutexAccess::take_unclaimed(*this)) break;  // handed over to nobody
    if (old & (kLocked | kStarving)) {
      rt::note_plain_thread();  // it may come back
      return false;
    }
    if (state_.compare_exchange_weak(old, old | kLocked, std::memory_order_acquire)) break;
  }
  void* self = detail::current_goroutine();
  if (!self) detail::note_plain_thread();
  owner_.store(self, std::memory_order_relaxed);
  return true;
}

void Mutex::lock_slow() {
  std::int64_t wait_start = 0;
  bool starving = false, awoke = false;
  int round = 0;
  std::int32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Spin while locked in normal mode and the holder is running elsewhere. In starvation mode
    // the lock goes to the queue's head; spinning could not get it.
    if ((old & (kLocked | kStarving)) == kLocked && can_spin(round, owner_.load(std::memory_order_relaxed))) {
      // Tell unlock not to wake a waiter: we are about to take the lock ourselves.
      if (!awoke && !(old & kWoken) && (old >> kWaiterShift) != 0 &&
          state_.compare_exchange_weak(old, old | kWoken, std::memory_order_relaxed))
        awoke = true;
      for (int i = 0; i < kPausesPerRound; ++i) _mm_pause();
      ++round;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    std::int32_t next = old;
    if (!(old & kStarving)) next |= kLocked;  // a starving mutex is handed over, not grabbed
    if (old & (kLocked | kStarving)) next += 1 << kWaiterShift;
    if (starving && (old & kLocked)) next |= kStarving;
    if (awoke) next &= ~kWoken;  // we were woken (or claimed woken): clear it either way
    if (!state_.compare_exchange_weak(old, next, std::memory_order_acquire, std::memory_order_relaxed))
      continue;
    if (!(old & (kLocked | kStarving))) return;  // took it

    // Queue: at the front if we have waited before, so the oldest waiter stays first.
    const bool lifo = wait_start != 0;
    if (!wait_start) wait_start = os::now_ns();
    MutexAccess::wait(*this, lifo);
    starving = starving || os::now_ns() - wait_start > kStarvationNs;
    old = state_.load(std::memory_order_relaxed);
    if (old & kStarving) {
      take_handed_over(state_, old, starving);
      return;
    }
    awoke = true;
    round = 0;
  }
}

void Mutex::wake_waiter(std::int32_t state) {
  std::int32_t old = state;
  for (;;) {
    // Nobody waits, or someone is already woken or has the lock: nothing to do.
    if ((old >> kWaiterShift) == 0 || (old & (kLocked | kWoken | kStarving))) return;
    const std::int32_t next = (old - (1 << kWaiterShift)) | kWoken;
    if (state_.compare_exchange_weak(old, next, std::memory_order_release, std::memory_order_relaxed)) {
      sema_release(sema_);
      return;
    }
  }
}

void Mutex::unlock_slow(std::int32_t state) {
  if (((state + kLocked) & kLocked) == 0) fatal("unlock of an unlocked goro::Mutex");
  WakeFence fence;  // from counting a waiter out until it is woken (sched/settle.hpp)
  if (!(state & kStarving)) {
    wake_waiter(state);
    return;
  }
  // Starvation mode: hand ownership to the first waiter. kLocked stays clear until that waiter
  // sets it (lock_slow), but kStarving keeps newcomers from taking it: they queue behind it. It
  // runs at our next scheduling point (unlock itself is none), which bounds the wait as well.
  // A plain thread gets here after releasing the mutex, before its fence: teardown may have
  // settled that waiter in between, and the hand-off then waits for the next (unqueued).
  sema_release(sema_, true);
}

}  // namespace goro
