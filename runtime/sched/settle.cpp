// runtime/sched/settle.cpp — see settle.hpp.
#include "sched/settle.hpp"

#include "sched/sched.hpp"

#include <atomic>
#include <thread>

// Where a plain thread is about to take its outermost fence: the last moment at which teardown
// can still start settling ahead of it. A test that compiles this file into itself defines the
// macro to pause a thread here (tests/sync_test.cpp); the library's own copy has nothing here.
#ifndef GORO_TEST_BEFORE_FENCE
#define GORO_TEST_BEFORE_FENCE()
#endif

namespace goro::rt {
namespace {

std::atomic<int> fences_held{0};
std::atomic<bool> settling{false};
thread_local int fence_depth = 0;  // a fenced operation may call another (unlock, then release)

}  // namespace

void WakeFence::enter() {
  if (fence_depth++ > 0) return;
  GORO_TEST_BEFORE_FENCE();
  for (;;) {
    fences_held.fetch_add(1, std::memory_order_seq_cst);
    if (!settling.load(std::memory_order_seq_cst)) return;
    fences_held.fetch_sub(1, std::memory_order_seq_cst);
    while (settling.load(std::memory_order_acquire)) std::this_thread::yield();
  }
}

void WakeFence::leave() {
  if (--fence_depth == 0) fences_held.fetch_sub(1, std::memory_order_seq_cst);
}

bool settle_abandoned() {
  // Dekker with enter(): either a plain thread sees `settling` and backs off, or we see its fence.
  settling.store(true, std::memory_order_seq_cst);
  while (fences_held.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
  struct Done {  // even if a settling operation throws: plain threads must not wait for ever
    Done() { ++fence_depth; }  // settling repairs primitives through their own operations
    ~Done() {
      --fence_depth;
      settling.store(false, std::memory_order_release);
    }
  } done;
  bool abandoned = false;
  sched.gpool.for_each([&](G& g) {
    if (g.state() == GStatus::free) return;
    if (!g.stack && g.task.run) {
      g.task.drop(g.task);  // never started
      return;
    }
    abandoned = true;
    // Parked in a primitive, or readied from one but not yet run (on_abandon is cleared only
    // when it runs again): settle that call.
    if (g.on_abandon) g.on_abandon(g.abandon_arg);
  });
  return abandoned;
}

}  // namespace goro::rt
