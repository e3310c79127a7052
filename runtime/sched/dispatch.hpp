// runtime/sched/dispatch.hpp — the hot path: leave the running goroutine for the next one.
//
// Every park, yield and exit ends in switch_away(); it is inline so that each of them compiles
// to one straight path from "this goroutine is done for now" to the stack switch.
//
// Picking order on a P (next_local), after Go's findRunnable:
//   1. runnext — it inherits the current time slice, unless kMaxInheritedHandoffs hand-offs in a
//      row have kept the rest of the queue waiting;
//   2. every kGlobalCheckTicks slices, one goroutine from the global queue, so that it cannot
//      starve behind a busy local queue — and the P's expired timers are due for a check;
//   3. the head of the local ring.
// If the P has nothing, the worker goes back to its own stack (g0) and find_runnable()
// (schedule.cpp) looks further.
//
// Timers are not run here: the goroutine leaving may hold a lock until its "after" action runs
// (the parking protocol), and a timer firing could need that very lock (a timer channel being
// received from, the heap a sleeper is being armed in). They run right after the "after"
// action instead, on the next goroutine's stack, when this thread holds no lock at all.
#pragma once

#include "sched/sched.hpp"
#include "time/timers.hpp"

namespace goro::rt {

// Go's value: a prime, so the check does not fall into step with periodic workloads.
inline constexpr std::uint32_t kGlobalCheckTicks = 61;
// A communicating pair handing runnext back and forth would otherwise never let the local
// queue's head run (Go relies on its 10 ms preemption for this; goro has no preemption).
// 64 hand-offs of a ~50 ns channel round trip keep the rest of the queue waiting ~3 µs at most.
// The slice ends even when the ring is empty: the global queue and the P's timers are looked at
// only once per kGlobalCheckTicks slices, and a pair that never ended one starved both.
inline constexpr std::uint32_t kMaxInheritedHandoffs = 64;

inline G* next_local(P* p) {
  if (sched.stopping.load(std::memory_order_relaxed)) return nullptr;
  const bool solo = sched.nprocs == 1;  // no other P: nobody steals (runq.hpp)
  if (p->runq.has_next() && p->inherited < kMaxInheritedHandoffs) {
    if (G* g = p->runq.take_next(solo)) {
      ++p->inherited;
      return g;
    }
  }
  p->inherited = 0;
  if (++p->schedtick % kGlobalCheckTicks == 0) {
    p->timers_due = p->timers.earliest() != 0;
    G* g;
    if (sched.globalq->pop_batch(&g, 1)) return g;
  }
  if (G* g = p->runq.pop(solo)) return g;
  return p->runq.take_next(solo);
}

inline void start_on_stack(P* p, G* g) {
  if (!g->stack) g->stack = p->stacks.get(sched.stacks);
}

// An "after" action followed by the P's expired timers.
struct AfterThenTimers {
  AfterSwitch after;
  void* arg;
  static void run(Fiber* from, void* self) {
    const AfterThenTimers a = *static_cast<AfterThenTimers*>(self);  // lives on `from`'s stack
    if (a.after) a.after(from, a.arg);
    P* p = current_m()->p;
    p->timers_due = false;
    run_timers(p, false);
  }
};

inline void switch_away(M* m, G* self, AfterSwitch after, void* arg) {
  P* p = m->p;
  p->counters.switches.add();
  G* next = next_local(p);
  switch_to(m, next);
  AfterThenTimers chained{after, arg};
  if (p->timers_due) {
    after = &AfterThenTimers::run;
    arg = &chained;
  }
  if (next) {
    next->set_state(GStatus::running);
    start_on_stack(p, next);
    switch_fiber(self->stack, next->stack, after, arg, m->eh);
  } else {
    switch_fiber(self->stack, &m->g0, after, arg, m->eh);
  }
}

}  // namespace goro::rt
