// runtime/sched/g.hpp — G: a goroutine.
//
// A G is a record of ~128 bytes: its function (stored inline), its state, and once it has run,
// a stack. G records are never freed during a run; a finished G goes to a free list and is reused
// for the next spawn (see gpool.hpp), which is what makes spawning cheap.
//
// Ownership. At any moment exactly one party may change a G: the run queue it sits in (whoever
// pops it), the worker running it, or the wait queue it is parked in (whoever readies it). The
// fields are atomics only so that goro::dump, reading from another thread, sees whole values;
// the hand-offs between owners (run queues, wait queues, the switch protocol) publish them.
#pragma once

#include <goro/detail/task.hpp>
#include <goro/detail/wait_reason.hpp>

#include "fiber/stack.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace goro::rt {

using detail::WaitReason;

enum class GStatus : std::uint8_t {
  free,      // in a free list (or never used)
  runnable,  // in a run queue
  running,   // on a worker
  waiting,   // parked; wait_reason says on what
  blocking,  // inside goro::blocking(): running on a worker that holds no P
};

// Exactly two cache lines: the closure, then the rest. All zero bytes is a free G: the G pool
// hands out zeroed memory as free Gs (gpool.cpp).
struct alignas(64) G {
  detail::TaskSlot task;  // first member: a TaskSlot* from go() is this G
  Stack* stack = nullptr; // null until the goroutine first runs
  std::atomic<std::uint64_t> id{0};
  std::atomic<GStatus> status{GStatus::free};
  // Set by each park and never cleared: dump reads it only for a waiting G, and a clear on
  // wake-up could land between its reads of the status and of the reason.
  std::atomic<WaitReason> wait_reason{WaitReason::none};
  std::atomic<std::int64_t> wait_since{0};         // coarse clock, ns
  std::atomic<const void*> spawn_pc{nullptr};      // where go() returns from spawn_commit
  // While parked, and once readied until it runs again: how to take this goroutine out of
  // whatever queue it waits in (a select stays on its other channels), should the
  // runtime stop and abandon it (its wait record lives on its stack, which is about to go).
  void (*on_abandon)(void* arg) = nullptr;
  void* abandon_arg = nullptr;

  static G* of(detail::TaskSlot* slot) { return reinterpret_cast<G*>(slot); }

  GStatus state() const { return status.load(std::memory_order_relaxed); }
  void set_state(GStatus s) { status.store(s, std::memory_order_relaxed); }
};

static_assert(offsetof(G, task) == 0);
static_assert(sizeof(G) == 128);

}  // namespace goro::rt
