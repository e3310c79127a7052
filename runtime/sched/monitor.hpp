// runtime/sched/monitor.hpp — the background monitor (Go's sysmon).
//
// One thread per runtime, holding no P. It wakes every 20 µs while it finds something to do,
// backing off to every 10 ms when it does not (Go's schedule; 1 ms while goroutines are queued
// and a P is idle) — but a blocking() call entering meanwhile wakes it
// (Sched::monitor_backed_off), so that the call's P is handed on a tick or two into it, never
// 10-20 ms late as with Go's sysmon, and so does a ready that no worker was woken for (the
// third item below). When every P is idle it has nothing to watch and sleeps until a P gets
// busy again (pidleget wakes it), so an idle runtime costs no wake-ups at all; when the other Ps
// are inside blocking() calls with nothing queued, it sleeps until the first of them is due to
// be retaken (quiet_for). Each round it
//   * retakes the P of a goroutine inside blocking() for longer than a tick, and gives it to
//     another worker (blocking.cpp), so `procs` goroutines keep running;
//   * takes the P of a goroutine that has run for kForcePreemptNs without a scheduling point
//     while work on that P, or in the global queue, has waited as long with nobody serving it
//     (no other P took it, no timer fired), and gives it to another worker: goro cannot preempt
//     C++ code, so the long goroutine carries on on its thread, without a P, until its next
//     scheduling point (monitor.cpp has the protocol);
//   * wakes a worker for a P whose queued goroutines have not moved since the last round while
//     another P is idle — the backstop for the relaxed wake-ups of idle.cpp;
//   * polls the network if nobody has for 10 ms (every worker busy computing);
//   * gives back to the kernel the memory of goroutine stacks left over from a burst, once they
//     have stayed unused for kTrimAfterNs or the runtime has been idle for kTrimIdleNs
//     (fiber/stack.hpp);
//   * confirms a suspected deadlock (diag/deadlock.cpp);
//   * prints the scheduler trace when GORO_SCHEDTRACE asks for it.
#pragma once

#include "os/parker.hpp"

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace goro::rt {

struct M;
struct P;

class Monitor {
 public:
  void start();
  void stop();  // wakes the thread and joins it
  void wake() { parker_.unpark(); }

  // Set while the monitor sleeps because no P runs goroutines; whoever takes an idle P wakes it.
  std::atomic<bool> idle_sleep{false};

  struct Watch {  // what the monitor saw of one P last round
    std::uint32_t syscall_tick = ~0u;
    std::int64_t syscall_since = 0;
    std::uint64_t switches = ~std::uint64_t{0};
    std::int64_t running_since = 0;
    std::uint32_t queue_head = 0;       // the run queue's consumption counter, and runnext
    const void* queue_next = nullptr;
    std::int64_t unserved_since = 0;    // since when queued work has waited untouched
    std::uint64_t stuck_switches = ~std::uint64_t{0};
  };

 private:

  void loop();
  bool retake(std::int64_t now);
  bool take_running(P* p, M* m);
  bool global_queue_unserved(std::int64_t now);
  bool wake_stuck_p();
  bool queued_while_idle();  // some P has goroutines queued and some P is idle
  void sleep_watched(std::int64_t ns);  // a long sleep is cut short by a ready (park.cpp)
  // Before the first longer sleep: sets Sched::monitor_backed_off, unless a blocking() call has
  // begun that no round has seen yet (then false: keep ticking).
  bool may_back_off();
  bool poll_network_if_stale(std::int64_t now);
  void trim_stacks(std::int64_t now, bool idle);
  // Sleeps at most `ns` (< 0: until woken) with idle_sleep set, so that whoever takes an idle P
  // wakes us — unless `still()` no longer holds once the flag is set.
  template <class Still>
  void sleep_announced(Still still, std::int64_t ns);
  void sleep_while_all_idle();
  // How long the monitor has nothing to do, when no P runs goroutines: each is idle or inside a
  // blocking() call already seen, with nothing queued, and some P is idle to take new work
  // (which wakes it, not us). Then the first thing due is retaking the oldest blocking() call's
  // P at kIdleSyscallNs; polling every 20 µs until then would only burn CPU — a wake-up costs
  // ~40 µs of CPU on a VM. 0 when some P runs. A blocking() call that returns meanwhile takes
  // its P back without waking us: that P runs unwatched for the rest of the sleep, at most
  // kIdleSyscallNs — no longer than a hog runs before the monitor may act on it anyway.
  std::int64_t quiet_for(std::int64_t now) const;
  void trace_line();

  std::thread thread_;
  os::Parker parker_;
  std::vector<Watch> watch_;
  std::uint64_t global_taken_ = 0;          // the global queue's consumption counter, and
  std::int64_t global_unserved_since_ = 0;  // since when its goroutines have waited untouched
  std::int64_t excess_since_ = 0;  // when the warm stacks last went over the limit (0: they are not)
  std::int64_t ready_woke_at_ = INT64_MIN / 2;  // when a ready last cut a sleep short
  bool can_take_running_ = false;  // membarrier(2) is available
};

}  // namespace goro::rt
