// runtime/sched/m.hpp — M: a worker thread.
//
// An M runs goroutines while it holds a P. Its own thread stack is its g0: the scheduler loop
// (find work, run it, repeat) runs there whenever no goroutine does. Ms are created on demand:
// one per P that has work, plus one for each goroutine inside goro::blocking() whose P was
// handed on. An M with nothing to do parks on its Parker (idle.cpp).
#pragma once

#include "fiber/switch.hpp"
#include "os/parker.hpp"
#include "sched/g.hpp"

#include <thread>

namespace goro::rt {

struct P;

// On lines of its own, as G and P: its thread writes in_runtime twice per channel operation and
// curg at every switch, and a neighbour on a shared line (another M) would bounce with them.
struct alignas(64) M {
  explicit M(unsigned index) : id(index) {}

  const unsigned id;
  Fiber g0;                 // this thread's own stack
  EhState* eh = nullptr;    // this thread's C++ exception state (fiber/switch.hpp)
  G* curg = nullptr;        // the goroutine running on this M, if any
  // The goroutine that ran before curg. While the M switches away from it (see switch_to), its
  // stack is still the one in use: the stack overflow handler looks at both.
  G* leaving = nullptr;
  P* p = nullptr;           // the P held, if any
  P* nextp = nullptr;       // handed over by startm() to a parked M
  P* oldp = nullptr;        // the P held before entering blocking(); reacquired first
  bool spinning = false;    // looking for work (counted in Sched::nmspinning)
  // Inside the runtime (using its P): the monitor will not take the P meanwhile. True on g0.
  std::atomic<bool> in_runtime{true};
  // The P the monitor is taking from this M's long-running goroutine (monitor.cpp).
  std::atomic<P*> p_taken{nullptr};
  int pinned_to = -1;       // the P whose home core this thread is bound to
  os::Parker parker;
  M* idle_link = nullptr;   // the idle M list (sched lock)
  std::thread thread;       // not joinable for the thread that called run()
};

// Makes `next` (null: g0) the M's goroutine, just before the stack switch to it.
inline void switch_to(M* m, G* next) {
  m->leaving = m->curg;
  m->curg = next;
}

// The M running on this thread, or null on a plain thread. Goroutines migrate between threads at
// every switch, so this must be re-read after anything that may switch: the optimizer must not
// reuse a thread-local address computed before the switch. On x86-64 the read is a volatile asm
// (initial-exec TLS: the variable's offset from the GOT, then an %fs-relative load), which the
// optimizer can neither merge with another nor move across a call; elsewhere, an opaque call.
// Inline, it saves the call and the caller-saved registers a call clobbers on every
// RuntimeSection: pingpong and select ~1% fewer instructions (callgrind).
[[gnu::tls_model("initial-exec"), gnu::visibility("hidden")]] extern thread_local M* tls_m
    asm("goro_rt_tls_m");
#if defined(__x86_64__)
inline M* current_m() {
  M* m;
  asm volatile("movq goro_rt_tls_m@gottpoff(%%rip), %0\n\tmovq %%fs:(%0), %0" : "=r"(m) : : "memory");
  return m;
}
#else
M* current_m();
#endif
void set_current_m(M* m);

// Whether this thread is a worker (current_m() is not null), cheaply. Unlike current_m() it may
// be inlined, and its thread-local's address reused across a switch: every thread a goroutine
// can resume on answers true.
extern constinit thread_local bool tls_on_worker [[gnu::tls_model("initial-exec")]];
inline bool on_worker_thread() { return tls_on_worker; }

// Brackets runtime code that uses the current M's P — everything a goroutine calls that touches
// its P's queues, caches or timers — so that the monitor does not hand the P to another worker
// in the middle (monitor.cpp has the protocol). The outermost section of a goroutine also
// honours a take that happened while it ran user code: it gives the P up first, so `m()->p` may
// be null inside; the code then takes its no-P path (global queue, global pools).
//
// A goroutine that parks inside a section may resume on another M: whatever switches away
// (park_on, yield, goexit, exit_blocking) takes the section and calls resumed() afterwards, so
// the section always ends on the M it is really on.
class RuntimeSection {
 public:
  [[gnu::always_inline]] RuntimeSection() : m_(current_m()) {
    if (!m_ || m_->in_runtime.load(std::memory_order_relaxed)) return;  // plain thread, or nested
    outer_ = true;
    m_->in_runtime.store(true, std::memory_order_relaxed);
    // Only a compiler barrier: the monitor's membarrier() supplies the StoreLoad ordering.
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (m_->p_taken.load(std::memory_order_relaxed)) [[unlikely]] give_up_p();
  }
  [[gnu::always_inline]] ~RuntimeSection() {
    if (outer_) m_->in_runtime.store(false, std::memory_order_release);
  }
  RuntimeSection(const RuntimeSection&) = delete;
  RuntimeSection& operator=(const RuntimeSection&) = delete;

  M* m() const { return m_; }
  // After a switch: the goroutine may be on another M now.
  void resumed() { m_ = current_m(); }

 private:
  [[gnu::cold, gnu::noinline]] void give_up_p();
  M* m_;
  bool outer_ = false;
};

}  // namespace goro::rt
