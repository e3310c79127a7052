// runtime/sched/idle.cpp — workers that have nothing to do: spinning, parking, waking.
//
// Goal: keep every P busy while there is work, never burn CPU while there is none, and never
// pay for a sleeping thread's wake-up (tens of microseconds on this VM) on the hot path.
//
// States. An M either runs a goroutine, spins (holds a P and looks for work: local, global,
// other Ps), or parks (holds no P, sleeps on its Parker). Idle Ps and parked Ms sit in two lists
// under sched.lock; `npidle` and `nmspinning` count them for lock-free checks.
//
// Bounded spinning (Go, Tokio): an M may start spinning only while
// 2 * nmspinning < procs - npidle, i.e. at most half of the busy Ps look for work at once, so a
// burst of idleness does not turn into all workers hammering each other's queues.
//
// Who wakes whom. Work appears in three ways: a goroutine is queued on a P's local queue, on the
// global queue, or a P is handed off by blocking(). Whoever submits work calls wakep(), which
// starts one spinning M if there is an idle P and nobody is spinning already. A spinning M
// that finds work stops spinning and, if it was the last spinner, calls wakep() itself
// (reset_spinning): so a burst of work fans out one worker at a time, and there is never a
// thundering herd — at most one M is woken per event. A spinning M that sees goroutines queued on
// a busy P keeps spinning until they have waited long enough to take (steal.cpp), up to 1 ms.
//
// The lost-wake-up argument (Go's, from proc.go). The submitter does
//     publish work ; StoreLoad ; if nmspinning == 0 && npidle > 0 then wakep()
// and an M giving up does
//     npidle++ (pidleput) ; nmspinning-- ; StoreLoad ; look at every queue again ; park
// (find_runnable in schedule.cpp). Both StoreLoads are seq_cst read-modify-writes, so one of
// the two sees the other's write: either the submitter sees the idle P and no spinner and wakes
// someone, or the M sees the work in its final look and takes a P back.
//
// Local queues relax this on purpose. Work pushed on a P's own ring is wakep()'d with relaxed
// loads (maybe_wakep) and no fence: if that wake-up is missed the work is not lost — its P will
// run it — only run later than it could have been, and the monitor (monitor.cpp) notices a P
// whose queued work is not moving and wakes a worker for it. And a goroutine readied into an
// empty runnext wakes nobody: the usual reason to ready a goroutine is that the readier is about
// to block (a channel hand-off), and then this P runs it next, hot in cache, with no wake-up at
// all. Go wakes a worker on every ready, which is why its unbuffered ping-pong between two
// goroutines costs a futex wake every few round trips. The price: a readier that computes on
// instead leaves the goroutine waiting, idle Ps or not, until the monitor sees the P's runnext
// not move for a round. Such a ready wakes the monitor if it sleeps longer than 1 ms (at most
// ~100 times a second, monitor.cpp), so the wait is ~0.25 ms (up to ~10 ms for readies closer
// together than that), where Go runs it at once (goro_bench ready_latency --procs 2: a readier
// computing 30 ms after each of 30 channel sends; 5.5 ms median and 10 ms at worst before the
// monitor was woken).
// A spawn is different: the spawner usually runs on, so go() wakes a worker even into an empty
// runnext, as Go's newproc does.
#include "net/netpoll.hpp"
#include "os/clock.hpp"
#include "sched/monitor.hpp"
#include "sched/sched.hpp"

#include <cstdio>
#include <cstdlib>
#include <utility>

// Where handoffp() is about to put a P it found nothing for in the idle list. A test that
// compiles this file into itself defines the macro to pause there (tests/sched_test.cpp); the
// library's own copy has nothing here.
#ifndef GORO_TEST_HANDOFF_IDLE
#define GORO_TEST_HANDOFF_IDLE()
#endif

namespace goro::rt {
namespace {

void mstart(M* m);

}  // namespace

bool may_spin() {
  const int busy = static_cast<int>(sched.nprocs) - sched.npidle.load(std::memory_order_relaxed);
  return 2 * sched.nmspinning.load(std::memory_order_relaxed) < busy;
}

void pidleput(P* p) {
  p->status.store(PStatus::idle, std::memory_order_relaxed);
  p->idle_link = sched.pidle;
  sched.pidle = p;
  sched.npidle.fetch_add(1, std::memory_order_seq_cst);
}

namespace {

// A P leaves the idle list: the monitor may be asleep because all were idle (monitor.hpp).
P* unlink_idle(P** link) {
  P* p = *link;
  *link = p->idle_link;
  p->idle_link = nullptr;
  sched.npidle.fetch_sub(1, std::memory_order_seq_cst);
  if (sched.monitor && sched.monitor->idle_sleep.load(std::memory_order_seq_cst)) {
    sched.coarse_now.store(os::coarse_now_ns(), std::memory_order_relaxed);  // it was stale
    sched.monitor->wake();
  }
  return p;
}

}  // namespace

P* pidleget() { return sched.pidle ? unlink_idle(&sched.pidle) : nullptr; }

P* pidleget(P* wanted) {
  for (P** link = &sched.pidle; *link; link = &(*link)->idle_link)
    if (*link == wanted) return unlink_idle(link);
  return pidleget();
}

void wakep() {
  if (sched.npidle.load(std::memory_order_seq_cst) == 0) return;
  int none = 0;
  if (sched.nmspinning.load(std::memory_order_relaxed) != 0 ||
      !sched.nmspinning.compare_exchange_strong(none, 1, std::memory_order_seq_cst))
    return;
  P* p;
  {
    std::lock_guard lock(sched.lock);
    p = pidleget();
  }
  if (!p) {
    sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
    return;
  }
  startm(p, true);
}

void reset_spinning(M* m) {
  m->spinning = false;
  if (sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst) == 1) wakep();
}

void startm(P* p, bool spinning) {
  M* m;
  {
    std::lock_guard lock(sched.lock);
    if (sched.stopping.load(std::memory_order_relaxed)) {
      pidleput(p);
      if (spinning) sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
      return;
    }
    m = sched.midle;
    if (m) {
      sched.midle = m->idle_link;
      m->idle_link = nullptr;
      --sched.nmidle;
    } else {
      sched.ms.push_back(std::make_unique<M>(static_cast<unsigned>(sched.ms.size())));
      m = sched.ms.back().get();
      m->nextp = p;
      m->spinning = spinning;
      mstart(m);  // under the lock, so that stopping the runtime sees every thread to join
      return;
    }
  }
  m->nextp = p;
  m->spinning = spinning;
  sched.unparks.fetch_add(1, std::memory_order_relaxed);
  m->parker.unpark();
}

bool stopm(M* m) {
  {
    std::lock_guard lock(sched.lock);
    if (sched.stopping.load(std::memory_order_relaxed)) return false;
    m->idle_link = sched.midle;
    sched.midle = m;
    ++sched.nmidle;
  }
  sched.parks.fetch_add(1, std::memory_order_relaxed);
  // Woken by startm (with a P) or by the runtime stopping; any other return of park() waits on.
  for (;;) {
    m->parker.park();
    if (P* p = std::exchange(m->nextp, nullptr)) {
      acquirep(m, p);
      return true;
    }
    if (sched.stopping.load(std::memory_order_acquire)) return false;
  }
}

void handoffp(P* p) {
  // Work waiting on this P or globally: give the P to a worker right away.
  if (!p->runq.empty() || !sched.globalq->empty()) {
    sched.handoffs.fetch_add(1, std::memory_order_relaxed);
    startm(p, false);
    return;
  }
  // Nobody spinning and no P idle: this P must look for work, as someone might be submitting
  // it right now expecting a spinner.
  int none = 0;
  if (sched.nmspinning.load(std::memory_order_relaxed) + sched.npidle.load(std::memory_order_relaxed) == 0 &&
      sched.nmspinning.compare_exchange_strong(none, 1, std::memory_order_seq_cst)) {
    sched.handoffs.fetch_add(1, std::memory_order_relaxed);
    startm(p, true);
    return;
  }
  GORO_TEST_HANDOFF_IDLE();
  {
    std::lock_guard lock(sched.lock);
    pidleput(p);
  }
  // Look at the global queue again, as a worker giving up its P does (find_runnable): work
  // queued since the look above by someone who found no P idle — this one was in neither list,
  // the idle one we counted on was just taken — woke nobody. The idle count's seq_cst increment
  // in pidleput, then this load, pair with the queue's push, then wakep's load of the count.
  if (!sched.globalq->empty()) wakep();
  // Its timers now have nobody to run them: make sure a worker waits for them (Go's handoffp).
  if (const std::int64_t when = p->timers.earliest()) deadline_added(when);
  // Goroutines parked on sockets count on an idle worker to poll for them, and this P's worker
  // (in blocking(), or preempted) was that worker: with every P idle now and nobody in
  // epoll_wait, nothing would poll again (Go's handoffp: "nobody is polling network").
  else if (network_waiters()) deadline_added(INT64_MAX);
}

void thread_start_failed(const char* role, const std::system_error& e) {
  std::fprintf(stderr,
               "goro: fatal error: cannot start a %s thread: %s. The process may be at its limit "
               "of threads (ulimit -u) or out of memory for thread stacks.\n",
               role, e.what());
  std::abort();
}

void wake_all_for_stop() {
  std::lock_guard lock(sched.lock);
  for (M* m = sched.midle; m; m = m->idle_link) m->parker.unpark();
  sched.midle = nullptr;
  sched.nmidle = 0;
}

namespace {

void mstart(M* m) {
  m->thread = start_runtime_thread("worker", [m] {
    set_current_m(m);
    adopt_thread_fiber(&m->g0);
    m->eh = thread_eh_state();
    AltSignalStack alt_stack;
    P* p = m->nextp;
    m->nextp = nullptr;
    acquirep(m, p);
    worker_loop(m);
    set_current_m(nullptr);
  });
}

}  // namespace

}  // namespace goro::rt
