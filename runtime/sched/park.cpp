// runtime/sched/park.cpp — park(), ready(), yield(), and queueing on a P. See park.hpp.
#include "sched/park.hpp"

#include "os/clock.hpp"
#include "sched/dispatch.hpp"
#include "sched/sched.hpp"

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

struct ParkRecord {
  G* g;
  UnlockFn unlock;
  void* arg;
};

}  // namespace

void runq_put(P* p, G* g, bool next) {
  if (next) {
    g = p->runq.exchange_next(g);
    if (!g) return;  // see idle.cpp: an empty runnext wakes nobody
  }
  if (!p->runq.push(g)) overflow(p, g);
  maybe_wakep();
}

G* current_g() {
  M* m = current_m();
  return m && m->p ? m->curg : nullptr;
}

void park(WaitReason reason, UnlockFn unlock, void* arg) {
  M* m = current_m();
  G* g = m->curg;
  g->wait_reason.store(reason, std::memory_order_relaxed);
  g->wait_since.store(sched.coarse_now.load(std::memory_order_relaxed), std::memory_order_relaxed);
  g->set_state(GStatus::waiting);
  ParkRecord rec{g, unlock, arg};
  switch_away(m, g, [](Fiber*, void* a) {
    auto* r = static_cast<ParkRecord*>(a);
    G* parked = r->g;  // r lives on the parked stack: read it before the unlock publishes it
    if (r->unlock && !r->unlock(parked, r->arg)) ready(parked);
  }, &rec);
}

void ready(G* g) {
  M* m = current_m();
  if (m && m->p) {
    g->wait_reason.store(WaitReason::none, std::memory_order_relaxed);
    g->set_state(GStatus::runnable);
    runq_put(m->p, g, true);
    return;
  }
  // A plain thread, or a worker inside blocking(): through the global queue, and only while the
  // runtime is up — once it stops, g is abandoned and its memory about to go.
  if (!try_enter_external()) return;
  g->wait_reason.store(WaitReason::none, std::memory_order_relaxed);
  g->set_state(GStatus::runnable);
  sched.globalq->push(g);
  wakep();
  leave_external();
}

}  // namespace goro::rt

namespace goro {

void yield() {
  using namespace rt;
  M* m = current_m();
  if (!m || !m->p || !m->curg) {  // a plain thread, or inside blocking()
    std::this_thread::yield();
    return;
  }
  P* p = m->p;
  if (p->runq.empty()) {
    // Go queues a yielding goroutine globally; goro keeps it local (cheaper) but must then make
    // sure it lines up behind the global queue's goroutines, not in front of them forever.
    G* first = global_refill(p);
    if (!first) return;  // nothing else to run here
    runq_put(p, first, true);
  }
  G* g = m->curg;
  g->set_state(GStatus::runnable);
  switch_away(m, g, [](Fiber*, void* a) {
    runq_put(current_m()->p, static_cast<G*>(a), false);
  }, g);
}

}  // namespace goro
