// runtime/sched/wait.cpp
#include "sched/wait.hpp"

#include "sched/sched.hpp"

namespace goro::rt {

void Waiter::block_with(WaitReason reason, UnlockFn unlock, void* arg) {
  RuntimeSection section;
  block_with(section, reason, unlock, arg);
}

void Waiter::block_with(RuntimeSection& section, WaitReason reason, UnlockFn unlock, void* arg) {
  if (g_) {
    park_on(section, reason, unlock, arg);
    return;
  }
  if (!unlock(nullptr, arg)) return;  // the wait was cancelled before it began
  while (thread_state_.load(std::memory_order_acquire) == 0) os::futex_wait(thread_state_, 0);
  // Woken, perhaps by a run that started while it slept: the call began before that run and
  // registered nothing in it, yet the thread may now wake a goroutine (deadlock detection).
  note_plain_thread();
}

void block_forever(WaitReason reason) {
  if (current_g()) {
    park(reason, nullptr, nullptr);
  }
  // A plain thread (or a goroutine resumed by the end of the runtime: never happens, as
  // abandoned goroutines never run again).
  std::atomic<std::uint32_t> never{0};
  for (;;) os::futex_wait(never, 0);
}

}  // namespace goro::rt
