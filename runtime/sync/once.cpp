// runtime/sync/once.cpp — goro::Once's slow path. The first caller runs f; callers that arrive
// while it runs wait in `waiters_`; when f returns they all return, when it throws one of them
// takes its turn (std::call_once's rule).
#include "sync/waitlist.hpp"

namespace goro {

bool Once::begin() {
  using namespace rt;
  WaitQ q(waiters_);
  q.lock();
  for (;;) {
    const std::uint32_t s = state_.load(std::memory_order_acquire);
    if (s == kDone) {
      q.unlock();
      return false;
    }
    if (s == kIdle) {
      state_.store(kRunning, std::memory_order_relaxed);
      q.unlock();
      note_plain_thread();  // a plain thread running f will wake the goroutines that wait
      return true;
    }
    SyncWaiter w;
    q.wait(w, WaitReason::sync_once);
    q.lock();
  }
}

void Once::end(bool done) {
  using namespace rt;
  WakeFence fence;  // a plain thread, from taking the waiters until they are woken
  WaitQ q(waiters_);
  q.lock();
  state_.store(done ? kDone : kIdle, std::memory_order_release);
  // Done: everyone returns. Failed: everyone looks again; the first one in runs f.
  WakeList woken;
  q.take_all(woken);
  q.unlock();
  woken.wake_all();
}

}  // namespace goro
