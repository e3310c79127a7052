// runtime/sched/monitor.hpp — the background monitor (Go's sysmon).
//
// One thread per runtime, holding no P. It wakes every 20 µs while it finds something to do,
// backing off to every 10 ms when it does not (Go's schedule). When every P is idle it has
// nothing to watch and sleeps until a P gets busy again (pidleget wakes it), so an idle runtime
// costs no wake-ups at all. Each round it
//   * wakes a worker for a P whose queued goroutines have not moved since the last round while
//     another P is idle — the backstop for the relaxed wake-ups of idle.cpp, and for a runnext
//     goroutine stuck behind a goroutine that computes without ever blocking;
//   * confirms a suspected deadlock (diag/deadlock.cpp);
//   * prints the scheduler trace when GORO_SCHEDTRACE asks for it.
#pragma once

#include "os/parker.hpp"

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace goro::rt {

class Monitor {
 public:
  void start();
  void stop();  // wakes the thread and joins it
  void wake() { parker_.unpark(); }

  // Set while the monitor sleeps because every P is idle; whoever takes an idle P wakes it.
  std::atomic<bool> idle_sleep{false};

 private:
  void loop();
  bool wake_stuck_p();
  void sleep_while_all_idle();
  void trace_line();

  std::thread thread_;
  os::Parker parker_;
  std::vector<std::uint64_t> last_switches_;
};

}  // namespace goro::rt
