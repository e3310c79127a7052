// runtime/sched/blocking.cpp — goro::blocking(f): run f without holding a P.
//
// f may block its thread for a long time (a syscall, a foreign library). As Go's
// entersyscall/exitsyscall: on entry the goroutine's P is not given away — it is marked
// PStatus::syscall and stays reserved for this worker, which costs two atomic stores. If f
// returns quickly, the worker takes its P straight back with one CAS. If f takes longer than a
// monitor tick (~20 µs), the monitor retakes the P and hands it to another worker
// (monitor.cpp), so `procs` goroutines keep running meanwhile — unless nothing is queued on that
// P and another P is free to take new work: then, as Go's retake, it waits until the call has
// lasted 10 ms (monitor.cpp, syscall_retake_due). Inside f the thread behaves as a plain thread:
// a goro call that blocks there blocks the thread.
//
// The monitor backs off to a 10 ms sleep when it has found nothing to do for a while; a call
// entering then would wait that long for its P to be handed on (and a call shorter than two
// such sleeps never would be). So entry checks Sched::monitor_backed_off — a relaxed load, no
// syscall while the monitor ticks — and if it is set, clears it and wakes the monitor, which
// goes back to ticking every 20 µs. The flag and the P's syscall status form an asymmetric
// Dekker pair (os/membarrier.hpp): the monitor sets the flag, heavy-fences, then looks for calls
// it has not seen; entry stores the status, then loads the flag. Either the monitor sees the call
// and does not back off, or entry sees the flag and wakes it.
//
// On exit, if the P was retaken: another idle P will do (the old one first, its caches are
// warm); if none is idle, the goroutine goes to the global queue and its worker parks — some
// worker holding a P picks it up.
//
// A goroutine whose P the monitor took while it computed (a preempt hand-off, monitor.cpp) has
// no P to reserve: it enters all the same — state blocking, counted in nblocking instead of
// nunowned — so that f runs as a plain thread like any other, and exits as a retaken call does.
//
// If the runtime has stopped (main returned) when the goroutine enters, it is abandoned right
// there: f never starts, as no abandoned goroutine runs again, and run() need not wait for it.
// If the runtime stops while f runs, the goroutine never runs again after f and the worker just
// leaves — but run() waits for f to return, since the goroutine's stack is still in use by f.
//
// errno: f's last call may have set it, and the caller reads it right after blocking() returns
// (the README promises that errno survives up to there). The goroutine may come back on another
// thread, so exit_blocking() carries f's errno over to the thread it returns on.
#include "os/errno.hpp"
#include "sched/monitor.hpp"
#include "sched/park.hpp"
#include "sched/sched.hpp"

#include <cerrno>
#include <utility>

namespace goro::rt {
namespace {

void after_blocking_exit(Fiber*, void* arg) {
  sched.globalq->push(static_cast<G*>(arg));
  sched.nblocking.fetch_sub(1, std::memory_order_seq_cst);
  wakep();
}

void after_abandon(Fiber*, void*) { sched.nblocking.fetch_sub(1, std::memory_order_seq_cst); }

// The runtime is stopping: the goroutine leaves for g0, whose loop ends, and never comes back
// (as exit_blocking's abandon path; nothing counted it as blocking yet).
[[gnu::cold, gnu::noinline]] void abandon_at_entry(M* m) {
  G* g = m->curg;
  if (m->p) {
    switch_to(m, nullptr);
    switch_fiber(g->stack, &m->g0, nullptr, nullptr, m->eh);
  } else {
    leave_without_p(m, g, nullptr, nullptr);  // the monitor took our P: stop counting as unowned
  }
  // never reached: abandoned goroutines do not run again
}

[[gnu::cold, gnu::noinline]] void wake_backed_off_monitor() {
  // Whoever clears the flag wakes it; the monitor reads the cleared flag as "watch closely again".
  if (sched.monitor_backed_off.exchange(false, std::memory_order_acq_rel)) sched.monitor->wake();
}

}  // namespace
}  // namespace goro::rt

namespace goro::detail {

using namespace rt;

bool enter_blocking() noexcept {
  if (!current_g()) return false;  // a plain thread, or nested blocking()
  RuntimeSection section;
  M* m = section.m();
  if (sched.stopping.load(std::memory_order_acquire)) [[unlikely]] abandon_at_entry(m);
  P* p = m->p;
  m->curg->set_state(GStatus::blocking);
  sched.nblocking.fetch_add(1, std::memory_order_seq_cst);
  if (!p) {
    // The monitor took our P while we ran (monitor.cpp): there is none to reserve, and exit takes
    // any idle one. From here on the goroutine counts as blocking, no longer as unowned (in this
    // order: deadlock detection must never see it as neither).
    sched.nunowned.fetch_sub(1, std::memory_order_seq_cst);
    return true;
  }
  m->oldp = p;
  releasep(m);
  p->syscall_tick.fetch_add(1, std::memory_order_relaxed);
  p->status.store(PStatus::syscall, std::memory_order_release);
  // Only a compiler barrier: the monitor's heavy fence supplies the StoreLoad ordering.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (sched.monitor_backed_off.load(std::memory_order_relaxed)) [[unlikely]] wake_backed_off_monitor();
  return true;
}

void exit_blocking() noexcept {
  const int err = errno;  // f's, on the thread f ran on
  RuntimeSection section;
  M* m = section.m();
  G* g = m->curg;
  P* oldp = std::exchange(m->oldp, nullptr);
  if (!sched.stopping.load(std::memory_order_acquire)) {
    // Fast path: the monitor did not retake our P (none if it had taken it before the call).
    PStatus expected = PStatus::syscall;
    if (oldp && oldp->status.compare_exchange_strong(expected, PStatus::running, std::memory_order_acq_rel)) {
      acquirep(m, oldp);
      g->set_state(GStatus::running);
      sched.nblocking.fetch_sub(1, std::memory_order_seq_cst);
      errno = err;  // same thread: whatever taking the P back did to it
      return;
    }
    P* p;
    {
      std::lock_guard lock(sched.lock);
      p = pidleget(oldp);
    }
    if (p) {
      acquirep(m, p);
      g->set_state(GStatus::running);
      sched.nblocking.fetch_sub(1, std::memory_order_seq_cst);
      errno = err;  // same thread: whatever taking the P back did to it
      return;
    }
    g->set_state(GStatus::runnable);
    switch_to(m, nullptr);
    switch_fiber(g->stack, &m->g0, &after_blocking_exit, g, m->eh);
    section.resumed();  // by a worker holding a P, maybe on another thread
    os::set_errno(err);  // opaque: errno's address computed above is the old thread's
    return;
  }
  // The runtime is stopping: this goroutine is abandoned; its worker's loop will end.
  switch_to(m, nullptr);
  switch_fiber(g->stack, &m->g0, &after_abandon, nullptr, m->eh);
  section.resumed();  // never happens: abandoned goroutines do not run again
}

}  // namespace goro::detail
