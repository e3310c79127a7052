// runtime/sched/monitor.cpp — see monitor.hpp.
#include "sched/monitor.hpp"

#include "os/clock.hpp"
#include "sched/sched.hpp"

#include <goro/runtime.hpp>

#include <chrono>
#include <cstdio>
#include <string>

namespace goro::rt {
namespace {

// Go's sysmon: 20 µs while busy; after 50 quiet rounds, double up to 10 ms.
constexpr std::int64_t kMinDelayNs = 20'000;
constexpr std::int64_t kMaxDelayNs = 10'000'000;
constexpr int kQuietRoundsBeforeBackoff = 50;

}  // namespace

void Monitor::start() {
  last_switches_.assign(sched.nprocs, ~std::uint64_t{0});
  thread_ = std::thread([this] { loop(); });
}

void Monitor::stop() {
  wake();
  if (thread_.joinable()) thread_.join();
}

void Monitor::loop() {
  std::int64_t delay = kMinDelayNs;
  int quiet = 0;
  const std::int64_t trace_every = std::int64_t{sched.settings.schedtrace_ms} * 1'000'000;
  std::int64_t next_trace = trace_every ? os::now_ns() + trace_every : INT64_MAX;
  while (!sched.stopping.load(std::memory_order_acquire)) {
    if (!trace_every) sleep_while_all_idle();
    std::int64_t sleep = delay;
    if (trace_every) sleep = std::min(sleep, std::max<std::int64_t>(next_trace - os::now_ns(), 0));
    parker_.park_for(std::chrono::nanoseconds(sleep));
    if (sched.stopping.load(std::memory_order_acquire)) break;
    sched.coarse_now.store(os::coarse_now_ns(), std::memory_order_relaxed);

    confirm_deadlock();
    if (wake_stuck_p()) {
      quiet = 0;
      delay = kMinDelayNs;
    } else if (++quiet > kQuietRoundsBeforeBackoff) {
      delay = std::min(delay * 2, kMaxDelayNs);
    }
    if (trace_every && os::now_ns() >= next_trace) {
      trace_line();
      next_trace += trace_every;
    }
  }
}

void Monitor::sleep_while_all_idle() {
  auto all_idle = [] {
    return sched.npidle.load(std::memory_order_seq_cst) == static_cast<int>(sched.nprocs) &&
           !sched.deadlock_suspected.load(std::memory_order_seq_cst);
  };
  while (all_idle() && !sched.stopping.load(std::memory_order_acquire)) {
    idle_sleep.store(true, std::memory_order_seq_cst);
    if (all_idle()) parker_.park();  // pidleget() or begin_stop() wakes us
    idle_sleep.store(false, std::memory_order_relaxed);
    sched.coarse_now.store(os::coarse_now_ns(), std::memory_order_relaxed);
  }
}

bool Monitor::wake_stuck_p() {
  bool stuck = false;
  for (auto& p : sched.ps) {
    const std::uint64_t switches = p->counters.switches.get();
    if (!p->runq.empty() && switches == last_switches_[p->id]) stuck = true;
    last_switches_[p->id] = switches;
  }
  if (!stuck || sched.npidle.load(std::memory_order_seq_cst) == 0 ||
      sched.nmspinning.load(std::memory_order_seq_cst) != 0)
    return false;
  wakep();
  return true;
}

void Monitor::trace_line() {
  Stats s = goro::stats();
  std::string queues;
  for (std::size_t i = 0; i < s.run_queues.size(); ++i)
    queues += (i ? " " : "") + std::to_string(s.run_queues[i]);
  std::fprintf(stderr,
               "SCHED %lldms: procs=%u idleprocs=%u threads=%u spinningthreads=%u blocking=%u "
               "runqueue=%zu [%s] goroutines=%zu spawned=%llu switches=%llu steals=%llu parks=%llu\n",
               static_cast<long long>((os::now_ns() - sched.start_ns) / 1'000'000), s.procs,
               s.idle_procs, s.threads, s.spinning_threads, s.blocking_calls, s.global_queue,
               queues.c_str(), s.goroutines, static_cast<unsigned long long>(s.spawned),
               static_cast<unsigned long long>(s.context_switches),
               static_cast<unsigned long long>(s.steals),
               static_cast<unsigned long long>(s.worker_parks));
}

}  // namespace goro::rt
