// runtime/fiber/switch.hpp — the one place where execution moves from one stack to another.
//
// Every switch between goroutines, and between a goroutine and its worker's scheduler stack
// (g0), goes through switch_fiber(). Three things must follow a fiber across a switch and they
// are all handled here, so no other file needs to know about them:
//   * the resume point (Boost.Context's fcontext: a bare jump_fcontext ping-pong costs ~16 ns
//     per switch on the Xeon these benchmarks ran on, and ~10 ns more where the resumed side's
//     call chain differs from the leaver's — its first return mispredicts). jump_fcontext is
//     entered with a jump, not a call (switch.cpp): it leaves by an indirect jump, so a call
//     would leave the CPU's return-stack buffer one entry off and every return after the
//     switch would mispredict (that cost a quarter of a channel round trip: pingpong at procs 1
//     151 -> 112 ns; yield 37 -> 21 ns);
//   * the sanitizers' view of the stack: ASan's __sanitizer_{start,finish}_switch_fiber and
//     TSan's __tsan_switch_to_fiber, called from this one frame so TSan's shadow stack stays
//     balanced (the pitfall of Tencent/flare #197);
//   * the C++ exception state (__cxa_eh_globals: the caught-exception stack and
//     std::uncaught_exceptions()). It is per thread, but a goroutine inside a catch block may
//     park and resume on another thread; without the swap, `throw;` would rethrow somebody
//     else's exception. The leaver swaps it before the jump (it knows both fibers and the
//     thread), so the resumed side starts with no work of its own: ~3% of a pingpong round
//     trip (and 13% while the returns after a switch still mispredicted).
//
// Hand-off protocol. The fiber we leave passes a SwitchRecord to the fiber we enter, which
// processes it as its first act: it stores the leaver's resume point, then runs
// `after(from, arg)`. At that moment the leaver is completely off its stack, so `after` may make
// it runnable (push it on a run queue, unlock the wait queue it sits in) with no risk that
// another worker resumes a goroutine whose stack is still in use. This is Go's mcall/park_m
// idea, but without a forced trip through the scheduler stack: goroutine A can switch straight
// to goroutine B and B finishes A's park.
#pragma once

#include "os/sanitizers.hpp"

#include <boost/context/detail/fcontext.hpp>

#include <cstddef>

namespace goro::rt {

namespace fctx = boost::context::detail;

// Mirror of libstdc++'s / libc++abi's __cxa_eh_globals.
struct EhState {
  void* caught_exceptions = nullptr;
  unsigned int uncaught_exceptions = 0;
};

// Something that can be switched to: a goroutine stack, or a worker thread's own stack (g0).
struct Fiber {
  fctx::fcontext_t ctx = nullptr;  // where it resumes; valid while it is suspended
  EhState eh;
#if GORO_ASAN
  void* asan_fake_stack = nullptr;
  const void* stack_bottom = nullptr;  // lowest address
  std::size_t stack_size = 0;
#endif
#if GORO_TSAN
  void* tsan_fiber = nullptr;
#endif
};

// Runs on the entered fiber's stack once `from` is suspended.
using AfterSwitch = void (*)(Fiber* from, void* arg);

// Suspends `from` (the running fiber) and resumes `to`, which first runs `after(from, arg)` (if
// not null). Returns when somebody switches back to `from` — possibly on another thread.
// `thread_eh` is the calling thread's exception state (thread_eh_state(), cached per worker).
void switch_fiber(Fiber* from, Fiber* to, AfterSwitch after, void* arg, EhState* thread_eh);

// The calling thread's C++ exception state. Constant for a thread: a worker reads it once.
EhState* thread_eh_state();

// A fresh fiber made with make_fiber() starts in `entry`, which must call fiber_entered(t)
// before anything else and must never return.
using FiberEntry = void (*)(fctx::transfer_t);
void make_fiber(Fiber* fiber, void* stack_top, void* stack_bottom, FiberEntry entry);
void fiber_entered(fctx::transfer_t t);

// The calling thread's own stack as a fiber (a worker's g0). Call on that thread.
void adopt_thread_fiber(Fiber* fiber);
// Releases what make_fiber() acquired for the sanitizers. The fiber must not be running.
void destroy_fiber(Fiber* fiber);

}  // namespace goro::rt
