// runtime/fiber/switch.cpp — see switch.hpp for the hand-off protocol.
#include "fiber/switch.hpp"

#if GORO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if GORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

// Declared here without <cxxabi.h>'s __attribute__((const)): with it, the compiler may reuse the
// address computed before a switch after the switch — on another thread, the wrong one.
extern "C" void* __cxa_get_globals() noexcept;

namespace goro::rt {
namespace {

struct SwitchRecord {
  Fiber* from;
  AfterSwitch after;
  void* arg;
};

// First thing a fiber does once it runs again (`self` null: its very first run).
inline void on_resumed([[maybe_unused]] Fiber* self, fctx::transfer_t t) {
  auto* rec = static_cast<SwitchRecord*>(t.data);
#if GORO_ASAN
  __sanitizer_finish_switch_fiber(self ? self->asan_fake_stack : nullptr, &rec->from->stack_bottom,
                                  &rec->from->stack_size);
#endif
  rec->from->ctx = t.fctx;
  if (rec->after) rec->after(rec->from, rec->arg);
}

}  // namespace

EhState* thread_eh_state() { return static_cast<EhState*>(__cxa_get_globals()); }

void switch_fiber(Fiber* from, Fiber* to, AfterSwitch after, void* arg, EhState* thread_eh) {
  SwitchRecord rec{from, after, arg};
  from->eh = *thread_eh;
  *thread_eh = to->eh;  // the thread is to's from the jump on
#if GORO_ASAN
  __sanitizer_start_switch_fiber(&from->asan_fake_stack, to->stack_bottom, to->stack_size);
#endif
#if GORO_TSAN
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  fctx::transfer_t t = fctx::jump_fcontext(to->ctx, &rec);
  on_resumed(from, t);
}

void make_fiber(Fiber* fiber, void* stack_top, void* stack_bottom, FiberEntry entry) {
  const auto size = static_cast<std::size_t>(static_cast<char*>(stack_top) -
                                             static_cast<char*>(stack_bottom));
  fiber->ctx = fctx::make_fcontext(stack_top, size, entry);
  fiber->eh = {};
#if GORO_ASAN
  fiber->asan_fake_stack = nullptr;
  fiber->stack_bottom = stack_bottom;
  fiber->stack_size = size;
#endif
#if GORO_TSAN
  if (!fiber->tsan_fiber) fiber->tsan_fiber = __tsan_create_fiber(0);
#endif
}

void fiber_entered(fctx::transfer_t t) { on_resumed(nullptr, t); }

void adopt_thread_fiber(Fiber* fiber) {
  fiber->ctx = nullptr;
  fiber->eh = {};
#if GORO_TSAN
  fiber->tsan_fiber = __tsan_get_current_fiber();
#endif
}

void destroy_fiber(Fiber* fiber) {
#if GORO_TSAN
  if (fiber->tsan_fiber) __tsan_destroy_fiber(fiber->tsan_fiber);
  fiber->tsan_fiber = nullptr;
#else
  (void)fiber;
#endif
}

}  // namespace goro::rt
