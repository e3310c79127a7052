// runtime/sched/spawn.cpp — go(): a new goroutine.
//
// From a goroutine, spawning touches only its P: a G from the P's free list (its closure is
// built right inside it by the template in goro/runtime.hpp), an id from the P's batch, and the
// P's runnext slot, as Go's newproc does — the child runs as soon as the parent blocks, on the
// same core, while the goroutine it displaced from runnext goes to the ring where idle Ps can
// steal it. An idle P is woken, to take the child if the parent runs on. No stack is allocated
// until the goroutine first runs.
//
// From a plain thread, the goroutine goes to the global queue and a worker is woken for it.
// Such a thread is "external": it counts as a possible waker for deadlock detection while it is
// alive (see enter_external).
#include "sched/sched.hpp"
#include "sched/wait.hpp"

#include <stdexcept>

namespace goro::rt {
namespace {

// Ids come in batches, so Ps do not fight over one counter (Go's goidcache). Go takes 16 at a
// time; each refill moves the counter's cache line between cores, and at 16 that was ~2% of
// fib's CPU at procs 2 (perf annotate: the lock xadd). Ids need only be unique.
constexpr std::uint64_t kGoidBatch = 1024;

// A plain thread's registration as a possible waker, dropped when the thread exits. The last
// one to go has the monitor look for a deadlock: the workers that parked while it was alive
// looked and gave up because of it, and no worker may park after it (diag/deadlock.cpp).
struct ExternalThread {
  std::uint64_t generation = 0;
  ~ExternalThread() {
    if (!generation) return;
    // Inside the scope the run cannot end, so the monitor outlives the wake below, and the
    // generation read is the running one's. Outside a run (or once it stops) the count no longer
    // matters: start() resets it, and a late decrement could only race with that reset.
    const ExternalScope external;
    if (!external.admitted() || generation != sched.generation.load(std::memory_order_acquire)) return;
    if (sched.external_threads.fetch_sub(1, std::memory_order_seq_cst) == 1) suspect_deadlock();
  }
};
thread_local ExternalThread external_thread;

}  // namespace

std::uint64_t new_goid(P* p) {
  if (!p) return sched.next_goid.fetch_add(1, std::memory_order_relaxed);
  if (p->next_goid == p->goid_end) {
    p->next_goid = sched.next_goid.fetch_add(kGoidBatch, std::memory_order_relaxed);
    p->goid_end = p->next_goid + kGoidBatch;
  }
  return p->next_goid++;
}

G* new_g(P* p) {
  if (p) return p->gfree.get(sched.gpool);
  G* g;
  sched.gpool.take(&g, 1);
  return g;
}

bool try_enter_external() {
  sched.external_ops.fetch_add(1, std::memory_order_seq_cst);
  if (sched.running.load(std::memory_order_seq_cst) && !sched.stopping.load(std::memory_order_seq_cst))
    return true;
  sched.external_ops.fetch_sub(1, std::memory_order_seq_cst);
  return false;
}

void enter_external(bool waker) {
  if (!try_enter_external()) {
    // Say why it is stopping: main's return is not the only reason.
    throw std::logic_error(!sched.running.load()
                               ? "goro: no runtime is running; use goro inside goro::run"
                           : sched.main_returned.load()
                               ? "goro: the runtime is shutting down (main has returned); "
                                 "nothing new can start now"
                               : "goro: the runtime is shutting down (a goroutine failed, or a "
                                 "deadlock was found); nothing new can start now");
  }
  // A worker thread inside blocking() is no plain thread: nblocking counts it while it is
  // there, and it must not stay registered as a waker after it leaves (it would be for the
  // rest of the run, which turns deadlock detection off).
  if (waker && !current_m()) register_external_thread();
}

void register_external_thread() {
  const std::uint64_t gen = sched.generation.load(std::memory_order_acquire);
  if (external_thread.generation == gen) return;
  external_thread.generation = gen;
  sched.external_threads.fetch_add(1, std::memory_order_seq_cst);
}

void note_plain_thread_slow() {  // not on a worker thread (note_plain_thread in wait.hpp)
  if (external_thread.generation == sched.generation.load(std::memory_order_acquire)) return;
  if (!try_enter_external()) return;
  register_external_thread();
  leave_external();
}

void leave_external() { sched.external_ops.fetch_sub(1, std::memory_order_seq_cst); }

}  // namespace goro::rt

namespace goro::detail {

using namespace rt;

// A goroutine whose P the monitor took (monitor.cpp) spawns through the global pools and queue,
// like a plain thread, but it needs no protection against teardown: run() waits for its worker.
bool spawning_goroutine(M* m) { return m && m->curg && m->curg->state() == GStatus::running; }

TaskSlot* spawn_begin() {
  RuntimeSection section;
  M* m = section.m();
  if (m && m->p) return &new_g(m->p)->task;
  if (!spawning_goroutine(m)) enter_external(true);  // a plain thread, or inside blocking()
  return &new_g(nullptr)->task;
}

void spawn_commit(TaskSlot* slot) noexcept {
  G* g = G::of(slot);
  g->spawn_pc.store(__builtin_return_address(0), std::memory_order_relaxed);
  RuntimeSection section;
  M* m = section.m();
  if (m && m->p) {
    P* p = m->p;
    g->id.store(new_goid(p), std::memory_order_relaxed);
    g->set_state(GStatus::runnable);
    p->counters.spawned.add();
    // Unlike a ready (idle.cpp), a spawn into an empty runnext wakes an idle P too, as Go's
    // newproc does: the spawner usually runs on, and the new goroutine would wait for it to
    // block, or for the monitor (0.7-4 ms at procs 2 while the spawner computed; 0.1-0.7 ms now).
    runq_put(p, g, true, true);
    return;
  }
  g->id.store(new_goid(nullptr), std::memory_order_relaxed);
  g->set_state(GStatus::runnable);
  sched.external_spawned.fetch_add(1, std::memory_order_relaxed);
  sched.globalq->push(g);
  wakep();
  if (!spawning_goroutine(m)) leave_external();
}

void spawn_cancel(TaskSlot* slot) noexcept {
  G* g = G::of(slot);
  RuntimeSection section;
  M* m = section.m();
  if (m && m->p) {
    m->p->gfree.put(sched.gpool, g);
    return;
  }
  sched.gpool.give(&g, 1);
  if (!spawning_goroutine(m)) leave_external();
}

}  // namespace goro::detail
