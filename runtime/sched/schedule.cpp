// runtime/sched/schedule.cpp — the worker loop: find a goroutine, run it, repeat.
//
// A goroutine gives up its worker in exactly three ways: it parks (park.cpp), it yields, or it
// exits. In each case switch_away() picks the next goroutine from the P's own queue and switches
// straight to it — one stack switch, no trip through the scheduler — passing the "after" action
// (requeue me, unlock my wait queue, recycle me) that the next goroutine runs once we are off our
// stack (fiber/switch.hpp). Only when the local queue is empty does the worker go back to its
// own stack (g0), where find_runnable() looks further: the global queue, other Ps (stealing),
// and finally parks the thread (idle.cpp).
//
// switch_away() and next_local() are the hot path of every park, yield and exit; they live in
// dispatch.hpp, inline.
#include "sched/dispatch.hpp"
#include "sched/sched.hpp"

#include "net/netpoll.hpp"
#include "os/clock.hpp"
#include "sched/park.hpp"
#include "sched/topology.hpp"
#include "time/timers.hpp"

#include <algorithm>
#include <cstdio>

#include <immintrin.h>

namespace goro::rt {

// initial-exec: a plain %fs-relative load, not a __tls_get_addr call (libgoro is loaded at
// program start, never dlopen'ed late). Named for current_m's asm (m.hpp), which the optimizer
// does not see as a use: externally_visible keeps GCC's link-time optimization from renaming it
// (into another partition's local) when it links libgoro.a into a program. (Clang has no such
// attribute, and an empty entry in an attribute list is allowed.)
#if __has_cpp_attribute(gnu::externally_visible)
#define GORO_EXTERNALLY_VISIBLE gnu::externally_visible
#else
#define GORO_EXTERNALLY_VISIBLE
#endif
[[gnu::tls_model("initial-exec"), gnu::visibility("hidden"), gnu::used, GORO_EXTERNALLY_VISIBLE]]
thread_local M* tls_m asm("goro_rt_tls_m") = nullptr;
#undef GORO_EXTERNALLY_VISIBLE

// Refills p's empty ring from the global queue: its fair share, as Go's globrunqget.
G* global_refill(P* p) {
  if (sched.globalq->empty()) return nullptr;
  G* batch[RunQueue::kCapacity / 2];
  std::size_t want = sched.globalq->size() / sched.nprocs + 1;
  if (want > RunQueue::kCapacity / 2) want = RunQueue::kCapacity / 2;
  std::size_t n = sched.globalq->pop_batch(batch, want);
  if (n == 0) return nullptr;
  for (std::size_t i = 1; i < n; ++i) runq_put(p, batch[i], false);
  return batch[0];
}

namespace {

bool any_p_has_work() {
  for (auto& p : sched.ps)
    if (!p->runq.empty()) return true;
  if (!sched.globalq->empty()) return true;
  const std::int64_t t = earliest_timer();
  return t && t <= os::now_ns();  // a timer is overdue: someone must run it
}

// A thief waits at most this long for other Ps' queued goroutines to become its to take; then it
// takes them at once (steal.cpp), rather than spin without end beside a busy P or park and be
// woken again by that P's next ready.
constexpr std::int64_t kMaxStealWaitNs = 1000000;

// Waits until `until` without touching other Ps' queues, unless work turns up meanwhile that is
// ours at once: the global queue, the network (readied onto our P), our own timers, the runtime
// stopping.
void wait_to_steal(P* p, std::int64_t until) {
  const std::int64_t timer = p->timers.earliest();
  if (timer && timer < until) until = timer;
  while (os::now_ns() < until && sched.globalq->empty() && !sched.stopping.load(std::memory_order_relaxed)) {
    if (poll_network()) return;
    for (int i = 0; i < 64; ++i) _mm_pause();
  }
}

// Looks everywhere for a goroutine for m, parking m while there is none. Null: runtime stops.
G* find_runnable(M* m) {
  std::int64_t waiting_since = 0;  // when we first waited to steal (0: not yet)
  for (;;) {
    if (sched.stopping.load(std::memory_order_acquire)) return nullptr;
    if (!m->p) {
      // A goroutine whose P the monitor took has just blocked or ended without one (park.cpp
      // leave_without_p), or left blocking() to find every P busy. A worker that parked while
      // the goroutine still ran saw it as awake (nunowned) and gave up on a deadlock; if it was
      // the last one awake, only this look can see the deadlock.
      check_deadlock();
      if (!stopm(m)) return nullptr;
    }
    P* p = m->p;

    G* g = next_local(p);
    if (!g && run_timers(p, false)) g = next_local(p);
    if (!g) g = global_refill(p);
    if (!g && network_waiters()) g = steal_stranded(m);  // before the network feeds us more
    if (!g && poll_network()) g = next_local(p);
    if (!g && (m->spinning || may_spin())) {
      if (!m->spinning) {
        m->spinning = true;
        sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
      }
      const bool patient = waiting_since == 0 || os::now_ns() - waiting_since < kMaxStealWaitNs;
      std::int64_t retry_at = 0;
      g = steal_work(m, patient, retry_at);
      if (!g && retry_at) {
        if (waiting_since == 0) waiting_since = os::now_ns();
        wait_to_steal(p, std::min(retry_at, waiting_since + kMaxStealWaitNs));
        continue;
      }
    }
    if (g) {
      if (m->spinning) reset_spinning(m);
      return g;
    }

    // Nothing anywhere: give the P back, then look once more before sleeping (idle.cpp has the
    // argument for why this second look cannot miss work submitted meanwhile).
    {
      std::lock_guard lock(sched.lock);
      if (!sched.globalq->empty()) continue;
      pidleput(releasep(m));
    }
    const bool was_spinning = m->spinning;
    if (was_spinning) {
      m->spinning = false;
      sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
    }
    if (any_p_has_work()) {
      P* again;
      {
        std::lock_guard lock(sched.lock);
        again = pidleget();
      }
      if (again) {
        acquirep(m, again);
        if (was_spinning) {
          m->spinning = true;
          sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
        }
        continue;
      }
    }
    check_deadlock();
    if (wait_for_events(m)) continue;  // waited for I/O or a timer; holds a P again
    if (!stopm(m)) return nullptr;
  }
}

}  // namespace

#if !defined(__x86_64__)
// noipa: the optimizer must not inline this or learn that it is pure, or it could reuse the
// thread-local address computed before a switch (see m.hpp).
[[gnu::noinline, gnu::noipa]] M* current_m() { return tls_m; }
#endif
void set_current_m(M* m) {
  tls_m = m;
  tls_on_worker = m != nullptr;
}

constinit thread_local bool tls_on_worker [[gnu::tls_model("initial-exec")]] = false;

void acquirep(M* m, P* p) {
  m->p = p;
  p->owner.store(m, std::memory_order_relaxed);
  p->status.store(PStatus::running, std::memory_order_release);
  if (sched.settings.pin && m->pinned_to != static_cast<int>(p->id)) {
    Topology::get().pin_thread(p->id, sched.nprocs);
    m->pinned_to = static_cast<int>(p->id);
  }
}

P* releasep(M* m) {
  P* p = m->p;
  p->owner.store(nullptr, std::memory_order_relaxed);
  m->p = nullptr;
  return p;
}

void RuntimeSection::give_up_p() {
  // The monitor took our P while the goroutine ran user code (or is taking it and will see this
  // exchange): forget it. From here to its next scheduling point the goroutine runs without a P
  // (park.cpp leave_without_p).
  //
  // Only if the P announced is the one we hold. The monitor may have chosen it while we still
  // held it and announce it after we let go of it (we entered blocking(), or parked and took
  // another P): clearing that announcement would tell the monitor we let go of a P we do not
  // hold, and it would hand that P on as if taken from a running goroutine — one that would
  // count as running without a P for ever, or a P handed on twice. Left alone, it is withdrawn
  // by the monitor's own compare-exchange.
  P* mine = m_->p;
  if (mine && m_->p_taken.compare_exchange_strong(mine, nullptr, std::memory_order_acq_rel))
    m_->p = nullptr;
}

void worker_loop(M* m) {
  m->in_runtime.store(true, std::memory_order_relaxed);  // g0 is runtime code throughout
  while (G* g = find_runnable(m)) {
    switch_to(m, g);
    g->set_state(GStatus::running);
    start_on_stack(m->p, g);
    switch_fiber(&m->g0, g->stack, nullptr, nullptr, m->eh);
    // Back on g0: a goroutine found nothing local to switch to; its "after" action has run.
  }
}

// Every goroutine stack starts here, and stays in this loop for its whole life: when a goroutine
// exits, its stack is recycled with this frame suspended inside goexit's switch, and the next
// goroutine to get the stack resumes right there. So a reused stack costs no setup, and the
// frames of every stack stay balanced (which the sanitizers' shadow stacks rely on).
[[noreturn]] void goroutine_main(fctx::transfer_t t) {
  fiber_entered(t);
  for (;;) {
    G* g = current_m()->curg;
    current_m()->in_runtime.store(false, std::memory_order_release);  // into user code
    try {
      g->task.run(g->task);
    } catch (...) {
      fail(std::current_exception());
    }
    g->task.run = nullptr;
    if (g == sched.main_g) {
      sched.main_returned.store(true, std::memory_order_relaxed);  // before the stop is seen
      begin_stop();
    }
    goexit(g);  // returns when this stack is handed to a new goroutine
  }
}

void goexit(G* g) {
  RuntimeSection section;
  M* m = section.m();
  if (P* p = m->p) {
    p->counters.exited.add();
    switch_away(m, g, [](Fiber*, void* arg) {
      // On the next goroutine's stack (or g0), same M and P: recycle the finished one.
      G* done = static_cast<G*>(arg);
      P* p = current_m()->p;
      p->stacks.put(sched.stacks, done->stack);
      done->stack = nullptr;
      done->set_state(GStatus::free);
      p->gfree.put(sched.gpool, done);
    }, g);
    section.resumed();  // this stack now runs the goroutine it was handed to
    return;
  }
  // Our P was taken while we ran (monitor.cpp): count the exit globally, recycle into the global
  // pools, and leave through g0, which finds this M without a P and parks it.
  sched.external_exited.fetch_add(1, std::memory_order_release);
  leave_without_p(m, g, [](Fiber*, void* arg) {
    G* done = static_cast<G*>(arg);
    Stack* s = done->stack;
    sched.stacks.give(StackPool::kNoHome, &s, 1);
    done->stack = nullptr;
    done->set_state(GStatus::free);
    sched.gpool.give(&done, 1);
  }, g);
  section.resumed();
}

bool goroutine_overflowed(const void* fault, const void* sp, std::uint64_t& goid,
                          std::size_t& stack_bytes) noexcept {
  M* m = tls_m;
  if (!m) return false;
  // The running goroutine's guard, or the one the M is switching away from (m.hpp): the switch
  // runs on that goroutine's stack, and may set up the next one's stack first, a deep path.
  for (G* g : {m->curg, m->leaving}) {
    if (!g || !g->stack || !StackPool::in_guard(g->stack, fault)) continue;
    // `leaving` stays set while the next goroutine runs: a stray access of that one into the
    // parked goroutine's guard is a plain crash, not an overflow. The faulting code runs on the
    // overflowed stack.
    if (sp && !StackPool::holds_sp(g->stack, sp)) continue;
    goid = g->id.load(std::memory_order_relaxed);
    stack_bytes = sched.stacks.stack_bytes();
    return true;
  }
  return false;
}

}  // namespace goro::rt
