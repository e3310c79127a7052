// runtime/sched/monitor.cpp — see monitor.hpp.
//
// Taking the P of a running goroutine. The goroutine's M uses its P without locks, inside
// RuntimeSections (m.hpp) — every runtime call a goroutine makes that touches its P — and never
// outside one. So the P may change hands only while the M is in user code. The handshake:
//
//   monitor                                     M (outermost section entry)
//   m->p_taken = p                              m->in_runtime = true
//   os::heavy_fence()                           (compiler barrier only)
//   if !m->in_runtime: hand p on                if m->p_taken == m->p: CAS it to null, and
//   else: withdraw by CAS p_taken p → null;       forget m->p (a P it no longer holds is
//         if the M won the exchange first,        left for the monitor to withdraw)
//         it has let go of p: hand p on
//
// The heavy fence (membarrier, os/membarrier.hpp) makes every thread of the process execute a
// full barrier, so this is Dekker's handshake with the StoreLoad fence paid only by the monitor —
// the hot path pays nothing. Either the monitor sees in_runtime set (the M may be using p: withdraw),
// or the M's next section sees p_taken (and stays off p). A P is handed on exactly once: by the
// monitor when it wins, never if it withdraws, and if the M acknowledged first the monitor's CAS
// fails and it hands on the P the M let go of.
#include "sched/monitor.hpp"

#include "net/netpoll.hpp"
#include "net/poller.hpp"
#include "os/clock.hpp"
#include "os/membarrier.hpp"
#include "sched/sched.hpp"
#include "time/timers.hpp"

#include <goro/runtime.hpp>

#include <immintrin.h>

#include <chrono>
#include <cstdio>
#include <string>

// Where the monitor is about to announce that it takes an M's P (stage 0), and about to withdraw
// (stage 1). A test that compiles this file into itself defines the macro to pause the monitor
// there (tests/sched_test.cpp); the library's own copy has nothing here.
#ifndef GORO_TEST_TAKE_RUNNING
#define GORO_TEST_TAKE_RUNNING(stage, p, m)
#endif

namespace goro::rt {
namespace {

// Go's sysmon: 20 µs while busy; after 50 quiet rounds, double up to 10 ms. But no sleep is
// longer than 1 ms while goroutines are queued and a P is idle (sleep_watched): a goroutine
// readied into an empty runnext wakes no worker (idle.cpp), and if its readier computes on,
// wake_stuck_p is what hands it to the idle P once a round finds it not moved since the last.
// Such a ready also wakes the monitor from a longer sleep (Sched::monitor_sleeps_long), so the
// goroutine waits a round or two (~0.25 ms), not up to 20 ms — when such readies come more than
// kMaxDelayNs apart; closer together, up to ~10 ms. (Go wakes a worker on every ready instead,
// which costs its ping-pong a futex wake every few round trips; this costs one now and then,
// see sleep_watched, and after a hand-off the monitor's 20 µs rounds for a while, as after
// anything it does.)
constexpr std::int64_t kMinDelayNs = 20'000;
constexpr std::int64_t kMaxDelayNs = 10'000'000;
constexpr std::int64_t kMaxDelayWhileQueuedNs = 1'000'000;
constexpr int kQuietRoundsBeforeBackoff = 50;
// Go's forcePreemptNS: a goroutine running this long without a scheduling point loses its P
// if something waits for it.
constexpr std::int64_t kForcePreemptNs = 10'000'000;
// A P inside blocking() with nothing queued is left alone while other Ps can take new work,
// for up to this long (Go's retake: 10 ms).
constexpr std::int64_t kIdleSyscallNs = 10'000'000;
// Go's sysmon polls the network if nobody has for this long.
constexpr std::int64_t kNetpollStaleNs = 10'000'000;
// Free stacks kept committed for reuse: 1024 shallow stacks hold ~4 MiB. An excess is given back
// once it has gone unused kTrimAfterNs (a burst has ended), or once the runtime has stayed idle
// for kTrimIdleNs. Not at once: the lulls inside a burst (goroutines sleeping until their timers
// fire) make the runtime idle for a millisecond at a time, and a trim then costs a syscall and a
// TLB shootdown per run of stacks, only for the burst's next goroutines to fault the pages back.
// After kTrimIdleNs idle, the stacks kept also give back what deep goroutines left in them
// (StackPool::shrink: a mincore per kept stack, a madvise per deep one).
constexpr std::size_t kMaxWarmStacks = 1024;
constexpr std::int64_t kTrimAfterNs = 1'000'000'000;
constexpr std::int64_t kTrimIdleNs = 50'000'000;

// Work on p that has waited kForcePreemptNs with nobody serving it: a queue nobody took from
// (other Ps steal from a busy P's queue; that counts as serving it), or a long-overdue timer.
bool unserved_work(P* p, Monitor::Watch& w, std::int64_t now) {
  const std::uint32_t head = p->runq.taken_so_far();
  const void* next = p->runq.peek_next();
  if (p->runq.empty() || head != w.queue_head || next != w.queue_next) {
    w.queue_head = head;
    w.queue_next = next;
    w.unserved_since = now;
  }
  const bool queue = !p->runq.empty() && now - w.unserved_since >= kForcePreemptNs;
  const std::int64_t t = p->timers.earliest();
  return queue || (t && t <= now - kForcePreemptNs);
}

// Go's retake rule for a P inside a blocking() call the monitor has already seen: with nothing
// queued on it and another P free to take new work, it is left alone until kIdleSyscallNs after
// the call was first seen; otherwise it is due now (0).
std::int64_t syscall_retake_due(const P* p, const Monitor::Watch& w) {
  const bool others_free = sched.nmspinning.load(std::memory_order_relaxed) +
                               sched.npidle.load(std::memory_order_relaxed) > 0;
  return p->runq.empty() && others_free ? w.syscall_since + kIdleSyscallNs : 0;
}

}  // namespace

void Monitor::start() {
  watch_.assign(sched.nprocs, Watch{});
  can_take_running_ = os::heavy_fences_available();
  thread_ = start_runtime_thread("monitor", [this] { loop(); });
}

void Monitor::stop() {
  wake();
  if (thread_.joinable()) thread_.join();
}

template <class Still>
void Monitor::sleep_announced(Still still, std::int64_t ns) {
  // Store, then check: pairs with unlink_idle's npidle update, then check of idle_sleep.
  idle_sleep.store(true, std::memory_order_seq_cst);
  if (still()) {
    if (ns < 0) parker_.park();
    else parker_.park_for(std::chrono::nanoseconds(ns));
  }
  idle_sleep.store(false, std::memory_order_relaxed);
}

void Monitor::loop() {
  std::int64_t delay = kMinDelayNs;
  int quiet = 0;
  const std::int64_t trace_every = std::int64_t{sched.settings.schedtrace_ms} * 1'000'000;
  std::int64_t next_trace = trace_every ? os::now_ns() + trace_every : INT64_MAX;
  while (!sched.stopping.load(std::memory_order_acquire)) {
    if (trace_every) {
      const std::int64_t to_trace = std::max<std::int64_t>(next_trace - os::now_ns(), 0);
      sleep_watched(std::min(delay, to_trace));
    } else {
      sleep_while_all_idle();
      if (const std::int64_t quiet_ns = quiet_for(os::now_ns()); quiet_ns > delay)
        sleep_announced([this] { return quiet_for(os::now_ns()) > 0; }, quiet_ns);
      else
        sleep_watched(delay);
    }
    if (sched.stopping.load(std::memory_order_acquire)) break;
    const std::int64_t now = os::now_ns();
    // Only when it moved (every few ms): every core reads its line on every switch (sched.hpp).
    if (const std::int64_t coarse = os::coarse_now_ns();
        coarse != sched.coarse_now.load(std::memory_order_relaxed))
      sched.coarse_now.store(coarse, std::memory_order_relaxed);

    // A blocking() call cleared the flag while we slept long: watch it every tick again.
    const bool woken_for_blocking =
        delay > kMinDelayNs && !sched.monitor_backed_off.load(std::memory_order_acquire);

    confirm_deadlock();
    bool acted = retake(now);
    acted |= wake_stuck_p();
    acted |= poll_network_if_stale(now);
    trim_stacks(now, false);
    if (acted || woken_for_blocking) {
      quiet = 0;
      delay = kMinDelayNs;
      sched.monitor_backed_off.store(false, std::memory_order_relaxed);
    } else if (++quiet > kQuietRoundsBeforeBackoff && (delay > kMinDelayNs || may_back_off())) {
      delay = std::min(delay * 2, kMaxDelayNs);
    }
    if (trace_every && now >= next_trace) {
      trace_line();
      next_trace = now + trace_every;  // after a stall, one line, not a burst (as Go's sysmon)
    }
  }
}

void Monitor::sleep_watched(std::int64_t ns) {
  if (ns > kMaxDelayWhileQueuedNs && queued_while_idle()) ns = kMaxDelayWhileQueuedNs;
  // A longer sleep is armed only if no ready has cut one short for kMaxDelayNs: ping-pong across
  // an idle P would otherwise wake us at every back-off, and this bounds what readies pay to
  // ~100 futex wakes a second. A ready that comes just as the flag is set may miss it (neither
  // side fences, so as not to slow the ready): that goroutine waits for the sleep to end, as it
  // did before the flag.
  const bool watch = ns > kMaxDelayWhileQueuedNs && os::now_ns() - ready_woke_at_ >= kMaxDelayNs;
  if (watch) sched.monitor_sleeps_long.store(true, std::memory_order_relaxed);
  parker_.park_for(std::chrono::nanoseconds(ns));
  if (watch && !sched.monitor_sleeps_long.exchange(false, std::memory_order_relaxed))
    ready_woke_at_ = os::now_ns();  // a ready cleared the flag (park.cpp)
}

void Monitor::sleep_while_all_idle() {
  auto all_idle = [] {
    return sched.npidle.load(std::memory_order_seq_cst) == static_cast<int>(sched.nprocs) &&
           !sched.deadlock_suspected.load(std::memory_order_seq_cst);
  };
  std::int64_t idle_since = os::now_ns();
  while (all_idle() && !sched.stopping.load(std::memory_order_acquire)) {
    const std::int64_t now = os::now_ns(), trim_at = idle_since + kTrimIdleNs;
    if (now < trim_at) {
      sleep_announced(all_idle, trim_at - now);
      const std::int64_t woke = os::now_ns();
      if (woke < trim_at) idle_since = woke;  // woken early: a P got busy
      continue;
    }
    trim_stacks(now, true);
    sched.stacks.shrink();
    sleep_announced(all_idle, -1);  // until pidleget() or begin_stop() wakes us
    sched.coarse_now.store(os::coarse_now_ns(), std::memory_order_relaxed);
    idle_since = os::now_ns();
  }
}

bool Monitor::may_back_off() {
  // Announce the back-off, then look for a blocking() call that began since retake() looked and
  // so may have missed the announcement (the Dekker pair is described in blocking.cpp).
  sched.monitor_backed_off.store(true, std::memory_order_seq_cst);
  if (can_take_running_) os::heavy_fence();
  for (auto& pp : sched.ps) {
    const P* p = pp.get();
    if (p->status.load(std::memory_order_acquire) == PStatus::syscall &&
        p->syscall_tick.load(std::memory_order_relaxed) != watch_[p->id].syscall_tick) {
      sched.monitor_backed_off.store(false, std::memory_order_relaxed);
      return false;  // the next round sees it
    }
  }
  return true;
}

std::int64_t Monitor::quiet_for(std::int64_t now) const {
  if (sched.npidle.load(std::memory_order_seq_cst) == 0 ||
      sched.deadlock_suspected.load(std::memory_order_seq_cst))
    return 0;
  std::int64_t until = INT64_MAX;
  for (auto& pp : sched.ps) {
    const P* p = pp.get();
    const PStatus status = p->status.load(std::memory_order_acquire);
    if (status == PStatus::idle) continue;
    if (status != PStatus::syscall) return 0;
    const Watch& w = watch_[p->id];
    if (p->syscall_tick.load(std::memory_order_relaxed) != w.syscall_tick) return 0;  // not seen yet
    const std::int64_t due = syscall_retake_due(p, w);
    if (due == 0) return 0;
    until = std::min(until, due);
  }
  return until == INT64_MAX ? 0 : std::max<std::int64_t>(until - now, 0);
}

// The global queue's counterpart of unserved_work: every P looks there at least once per
// kGlobalCheckTicks slices, so it waits untouched only while every P runs a goroutine that does
// not reach a scheduling point (or sits in a plain blocking call outside blocking()).
bool Monitor::global_queue_unserved(std::int64_t now) {
  const std::uint64_t taken = sched.globalq->taken_so_far();
  if (sched.globalq->empty() || taken != global_taken_) {
    global_taken_ = taken;
    global_unserved_since_ = now;
    return false;
  }
  return now - global_unserved_since_ >= kForcePreemptNs;
}

bool Monitor::retake(std::int64_t now) {
  bool acted = false;
  bool global_unserved = global_queue_unserved(now);
  for (auto& pp : sched.ps) {
    P* p = pp.get();
    Watch& w = watch_[p->id];
    const PStatus status = p->status.load(std::memory_order_acquire);
    if (status == PStatus::syscall) {
      const std::uint32_t tick = p->syscall_tick.load(std::memory_order_relaxed);
      if (tick != w.syscall_tick) {  // a new blocking() call: give it a tick
        w.syscall_tick = tick;
        w.syscall_since = now;
        continue;
      }
      if (now < syscall_retake_due(p, w)) continue;
      PStatus expected = PStatus::syscall;
      if (p->status.compare_exchange_strong(expected, PStatus::idle, std::memory_order_acq_rel)) {
        sched.retakes.fetch_add(1, std::memory_order_relaxed);
        handoffp(p);
        acted = true;
      }
    } else if (status == PStatus::running) {
      const std::uint64_t switches = p->counters.switches.get();
      if (switches != w.switches) {  // it is switching goroutines: fine
        w.switches = switches;
        w.running_since = now;
        unserved_work(p, w, now);  // keep its record current
        continue;
      }
      const bool unserved = unserved_work(p, w, now) || global_unserved;
      if (!can_take_running_ || now - w.running_since < kForcePreemptNs || !unserved) continue;
      M* m = p->owner.load(std::memory_order_acquire);
      if (m && take_running(p, m)) {
        sched.preempt_handoffs.fetch_add(1, std::memory_order_relaxed);
        sched.nunowned.fetch_add(1, std::memory_order_seq_cst);  // until leave_without_p
        w.running_since = now;
        handoffp(p);
        acted = true;
        if (global_unserved) {  // one P for the global queue per kForcePreemptNs
          global_unserved = false;
          global_unserved_since_ = now;
        }
      }
    }
  }
  return acted;
}

bool Monitor::take_running(P* p, M* m) {
  GORO_TEST_TAKE_RUNNING(0, p, m);
  m->p_taken.store(p, std::memory_order_seq_cst);
  os::heavy_fence();
  if (!m->in_runtime.load(std::memory_order_acquire) && p->owner.load(std::memory_order_acquire) == m &&
      p->status.load(std::memory_order_acquire) == PStatus::running) {
    p->owner.store(nullptr, std::memory_order_relaxed);
    return true;  // the M is in user code: the P is ours; its next section lets go of it
  }
  GORO_TEST_TAKE_RUNNING(1, p, m);
  P* expected = p;
  if (m->p_taken.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel)) return false;
  p->owner.store(nullptr, std::memory_order_relaxed);
  return true;  // the M acknowledged first and let go of p
}

bool Monitor::queued_while_idle() {
  if (sched.npidle.load(std::memory_order_relaxed) == 0) return false;
  for (auto& p : sched.ps)
    if (!p->runq.empty()) return true;
  return false;
}

bool Monitor::wake_stuck_p() {
  bool stuck = false;
  for (auto& p : sched.ps) {
    Watch& w = watch_[p->id];
    const std::uint64_t switches = p->counters.switches.get();
    if (!p->runq.empty() && switches == w.stuck_switches) stuck = true;
    w.stuck_switches = switches;
  }
  if (!stuck || sched.npidle.load(std::memory_order_seq_cst) == 0 ||
      sched.nmspinning.load(std::memory_order_seq_cst) != 0)
    return false;
  wakep();
  return true;
}

bool Monitor::poll_network_if_stale(std::int64_t now) {
  if (poller.waiters() == 0 || now - poller.last_poll() < kNetpollStaleNs) return false;
  return poll_network_unowned() > 0;  // readied goroutines go to the global queue
}

void Monitor::trim_stacks(std::int64_t now, bool idle) {
  if (sched.stacks.warm() <= kMaxWarmStacks) {
    excess_since_ = 0;
    return;
  }
  if (!excess_since_) excess_since_ = now;
  if (!idle && now - excess_since_ < kTrimAfterNs) return;
  sched.stacks.trim(kMaxWarmStacks);
  excess_since_ = 0;
}

void Monitor::trace_line() {
  Stats s = goro::stats();
  std::string queues;
  for (std::size_t i = 0; i < s.run_queues.size(); ++i) {
    if (i) queues += ' ';
    queues += std::to_string(s.run_queues[i]);
  }
  std::fprintf(stderr,
               "SCHED %lldms: procs=%u idleprocs=%u threads=%u spinningthreads=%u blocking=%u "
               "runqueue=%zu [%s] goroutines=%zu spawned=%llu switches=%llu steals=%llu parks=%llu "
               "retakes=%llu preempt_handoffs=%llu\n",
               static_cast<long long>((os::now_ns() - sched.start_ns) / 1'000'000), s.procs,
               s.idle_procs, s.threads, s.spinning_threads, s.blocking_calls, s.global_queue,
               queues.c_str(), s.goroutines, static_cast<unsigned long long>(s.spawned),
               static_cast<unsigned long long>(s.context_switches),
               static_cast<unsigned long long>(s.steals),
               static_cast<unsigned long long>(s.worker_parks),
               static_cast<unsigned long long>(s.retakes),
               static_cast<unsigned long long>(s.preempt_handoffs));
}

}  // namespace goro::rt
