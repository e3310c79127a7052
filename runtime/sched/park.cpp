// runtime/sched/park.cpp — park(), ready(), yield(), and queueing on a P. See park.hpp.
#include "sched/park.hpp"

#include "net/netpoll.hpp"
#include "os/clock.hpp"
#include "sched/dispatch.hpp"
#include "sched/monitor.hpp"
#include "sched/sched.hpp"
#include "sched/wait.hpp"

#include <goro/runtime.hpp>

#include <thread>

namespace goro::rt {
namespace {

// Moves half of p's full ring plus g to the global queue (Go's runqputslow).
void overflow(P* p, G* g) {
  G* batch[RunQueue::kCapacity / 2 + 1];
  for (;;) {
    std::uint32_t n = p->runq.take_half(batch);
    if (n == 0) {
      if (p->runq.push(g)) return;  // thieves made room meanwhile
      continue;
    }
    batch[n++] = g;
    sched.globalq->push_batch(batch, n);
    return;
  }
}

[[gnu::cold, gnu::noinline]] void wake_sleeping_monitor() {
  if (sched.monitor_sleeps_long.exchange(false, std::memory_order_relaxed)) sched.monitor->wake();
}

struct ParkRecord {
  G* g;
  UnlockFn unlock;
  void* arg;
};

}  // namespace

void runq_put(P* p, G* g, bool next, bool spawned) {
  if (next) {
    g = p->runq.exchange_next(g);
    if (!g) {  // see idle.cpp: an empty runnext wakes no worker, unless the spawner runs on
      if (spawned) maybe_wakep();
      else if (sched.monitor_sleeps_long.load(std::memory_order_relaxed) &&
               sched.npidle.load(std::memory_order_relaxed) > 0) [[unlikely]]
        wake_sleeping_monitor();
      return;
    }
  }
  if (!p->runq.push(g)) overflow(p, g);
  maybe_wakep();
}

G* current_g() { return goroutine_of(current_m()); }

void leave_without_p(M* m, G* self, AfterSwitch after, void* arg) {
  // The monitor took this goroutine's P while it ran (monitor.cpp): it parks or requeues through
  // g0, which finds the M without a P and parks it; the goroutine resumes wherever it is picked
  // up — its next scheduling point is where it gets a P again.
  //
  // It stops counting as unowned only once `after` has run on g0: until then it can still act
  // (queue itself, arm its sleep's timer, ready a wait that was cancelled), and a deadlock check
  // in between must see it as awake. g0 then checks for a deadlock itself (schedule.cpp).
  struct Leave {
    AfterSwitch after;
    void* arg;
  } leave{after, arg};
  switch_to(m, nullptr);
  switch_fiber(self->stack, &m->g0, [](Fiber* from, void* a) {
    const Leave l = *static_cast<Leave*>(a);  // first: once `after` publishes us, our stack moves on
    if (l.after) l.after(from, l.arg);
    sched.nunowned.fetch_sub(1, std::memory_order_seq_cst);
  }, &leave, m->eh);
}

void park(WaitReason reason, UnlockFn unlock, void* arg) {
  RuntimeSection section;
  park_on(section, reason, unlock, arg);
}

void park_on(RuntimeSection& section, WaitReason reason, UnlockFn unlock, void* arg) {
  M* m = section.m();
  G* g = m->curg;
  g->wait_reason.store(reason, std::memory_order_relaxed);
  g->wait_since.store(sched.coarse_now.load(std::memory_order_relaxed), std::memory_order_relaxed);
  g->set_state(GStatus::waiting);
  ParkRecord rec{g, unlock, arg};
  auto after = [](Fiber*, void* a) {
    auto* r = static_cast<ParkRecord*>(a);
    G* parked = r->g;  // r lives on the parked stack: read it before the unlock publishes it
    if (r->unlock && !r->unlock(parked, r->arg)) ready(parked);
  };
  if (m->p) switch_away(m, g, after, &rec);
  else leave_without_p(m, g, after, &rec);
  section.resumed();
}

void ready(G* g) {
  RuntimeSection section;
  ready_on(section.m(), g);
}

void ready_on(M* m, G* g) {
  if (m && m->p) {
    g->set_state(GStatus::runnable);
    runq_put(m->p, g, true);
    return;
  }
  // A plain thread, or a worker inside blocking(): through the global queue, and only while the
  // runtime is up — once it stops, g is abandoned and its memory about to go.
  const ExternalScope external;
  if (!external.admitted()) return;
  g->set_state(GStatus::runnable);
  sched.globalq->push(g);
  wakep();
}

void ready_batch(G* const* gs, int n) {
  if (n == 0) return;
  RuntimeSection section;
  M* m = section.m();
  for (int i = 0; i < n; ++i) gs[i]->set_state(GStatus::runnable);
  if (m && m->p) {
    for (int i = 0; i < n; ++i) runq_put(m->p, gs[i], i == 0);
    return;
  }
  sched.globalq->push_batch(gs, static_cast<std::size_t>(n));
  wakep();
}

}  // namespace goro::rt

namespace goro {

void yield() {
  using namespace rt;
  if (!current_g()) {  // a plain thread, or inside blocking()
    note_plain_thread();  // a plain thread that yields may wake a goroutine afterwards
    std::this_thread::yield();
    return;
  }
  RuntimeSection section;
  M* m = section.m();
  P* p = m->p;
  if (!p) {  // our P was taken: requeue globally and leave through g0
    m->curg->set_state(GStatus::runnable);
    leave_without_p(m, m->curg, [](Fiber*, void* a) {
      sched.globalq->push(static_cast<G*>(a));
      wakep();
    }, m->curg);
    section.resumed();
    return;
  }
  if (p->runq.empty()) {
    // Go queues a yielding goroutine globally and goes through its scheduler; goro keeps it
    // local (cheaper), so it does here what that scheduler pass would: line up behind the global
    // queue's goroutines, run the P's expired timers, take what the network has ready, and stop
    // here if the runtime is stopping. A goroutine polling with yield() relies on all four.
    if (G* first = global_refill(p)) {
      runq_put(p, first, true);
    } else if (sched.stopping.load(std::memory_order_acquire)) {
      // switch_away finds nothing and leaves for g0, whose loop then ends
    } else if (const std::int64_t t = p->timers.earliest(); t && t <= os::now_ns()) {
      p->timers_due = true;  // switch_away runs them once we are off this stack
    } else if (poll_network_lazily() == 0) {
      return;  // nothing else to run here
    }
  }
  G* g = m->curg;
  g->set_state(GStatus::runnable);
  switch_away(m, g, [](Fiber*, void* a) {
    runq_put(current_m()->p, static_cast<G*>(a), false);
  }, g);
  section.resumed();
}

}  // namespace goro
