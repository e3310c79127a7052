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

// jump_fcontext entered with a jump instead of a call. Boost's jump_fcontext leaves through an
// indirect jump, never a `ret`, so a `call` into it pushes a return-stack-buffer entry that
// nothing pops, and every return the resumed fiber then makes is predicted one frame off: the
// ~5 returns up its chain (switch_fiber, park_on, ...) all mispredict. Pushing the return
// address by hand keeps the buffer balanced: the resumed fiber's returns are predicted from the
// leaver's call chain, which is usually the same code (both parked the same way).
// jump_fcontext preserves the callee-saved registers; everything else is clobbered, as by a call.
// (A parked fiber's saved return address lies inside this asm, where the frame's unwind info is
// off by the red-zone step; nothing unwinds a parked fiber.)
#if defined(__x86_64__)
inline fctx::transfer_t jump_to(fctx::fcontext_t to, void* data) {
  register fctx::fcontext_t to_reg asm("rdi") = to;
  register void* data_reg asm("rsi") = data;
  register void* fctx_out asm("rax");
  register void* data_out asm("rdx");
  asm volatile(
      "sub $128, %%rsp\n\t"  // step over the red zone, which the compiler may be using
      "lea 1f(%%rip), %%rcx\n\t"
      "push %%rcx\n\t"
      "jmp jump_fcontext@PLT\n"
      "1:\n\t"
      "add $128, %%rsp"
      : "=a"(fctx_out), "=d"(data_out), "+D"(to_reg), "+S"(data_reg)
      :
      : "rcx", "r8", "r9", "r10", "r11", "memory", "cc",
        "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
        "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
        "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)",
        "mm0", "mm1", "mm2", "mm3", "mm4", "mm5", "mm6", "mm7");
  return {fctx_out, data_out};
}
#else
inline fctx::transfer_t jump_to(fctx::fcontext_t to, void* data) { return fctx::jump_fcontext(to, data); }
#endif

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
  fctx::transfer_t t = jump_to(to->ctx, &rec);
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
