// runtime/sched/blocking.cpp — goro::blocking(f): run f without holding a P.
//
// f may block its thread for a long time (a syscall, a foreign library). On entry the goroutine
// gives up its P and the P goes to another worker at once if it has work (handoffp), so `procs`
// goroutines keep running meanwhile; the goroutine stays on its thread, which now behaves as a
// plain thread (a goro call that blocks inside f blocks the thread).
//
// On exit it needs a P again: the one it had, if still idle (its caches are warm), else any idle
// one. If none is idle, the goroutine goes to the global queue and its thread parks: some worker
// holding a P will pick the goroutine up.
//
// If the runtime stopped meanwhile (main returned), the goroutine never runs again and the
// thread just leaves — but run() waits for f to return, since the goroutine's stack is still in
// use by f.
#include "sched/sched.hpp"

namespace goro::rt {
namespace {

void after_blocking_exit(Fiber*, void* arg) {
  sched.globalq->push(static_cast<G*>(arg));
  sched.nblocking.fetch_sub(1, std::memory_order_seq_cst);
  wakep();
}

void after_abandon(Fiber*, void*) { sched.nblocking.fetch_sub(1, std::memory_order_seq_cst); }

}  // namespace
}  // namespace goro::rt

namespace goro::detail {

using namespace rt;

bool enter_blocking() noexcept {
  M* m = current_m();
  if (!m || !m->p || !m->curg) return false;
  m->curg->set_state(GStatus::blocking);
  sched.nblocking.fetch_add(1, std::memory_order_seq_cst);
  m->oldp = releasep(m);
  handoffp(m->oldp);
  return true;
}

void exit_blocking() noexcept {
  M* m = current_m();
  G* g = m->curg;
  if (!sched.stopping.load(std::memory_order_acquire)) {
    P* p;
    {
      std::lock_guard lock(sched.lock);
      p = pidleget(m->oldp);
    }
    m->oldp = nullptr;
    if (p) {
      acquirep(m, p);
      g->set_state(GStatus::running);
      sched.nblocking.fetch_sub(1, std::memory_order_seq_cst);
      return;
    }
    g->set_state(GStatus::runnable);
    m->curg = nullptr;
    switch_fiber(g->stack, &m->g0, &after_blocking_exit, g, m->eh);
    return;  // resumed by a worker holding a P
  }
  // The runtime is stopping: this goroutine is abandoned; its worker's loop will end.
  m->curg = nullptr;
  switch_fiber(g->stack, &m->g0, &after_abandon, nullptr, m->eh);
}

}  // namespace goro::detail
