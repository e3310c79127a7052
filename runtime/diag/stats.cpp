// runtime/diag/stats.cpp — goro::stats() and the small queries of goro/runtime.hpp.
//
// Counters are per P, written only by the M holding the P (sched/p.hpp: Counter), and summed
// here; totals read while goroutines run are a consistent-enough snapshot, not an atomic one.
#include "sched/sched.hpp"

#include <goro/runtime.hpp>

namespace goro::rt {
namespace {

// A goroutine may always look; a plain thread only while a runtime runs and is not stopping.
template <class F>
auto with_runtime(F f, decltype(f()) otherwise) {
  const ExternalScope external(!current_m());
  return external.admitted() ? f() : otherwise;
}

// Exits first, then spawns. A goroutine's spawn happens before its exit, so every exit counted
// has its spawn counted too; in the other order, a goroutine spawned on one P (or by a plain
// thread) and gone on another between the two reads would count as an exit only, and the total
// could drop below the goroutines that are surely alive.
std::size_t live_goroutines() {
  std::uint64_t exited = sched.external_exited.load(std::memory_order_acquire);
  for (auto& p : sched.ps) exited += p->counters.exited.get();
  std::uint64_t spawned = sched.external_spawned.load(std::memory_order_acquire);
  for (auto& p : sched.ps) spawned += p->counters.spawned.get();
  return spawned > exited ? static_cast<std::size_t>(spawned - exited) : 0;
}

}  // namespace
}  // namespace goro::rt

namespace goro {

using namespace rt;

Stats stats() {
  return with_runtime([] {
    Stats s;
    s.procs = sched.nprocs;
    s.idle_procs = static_cast<unsigned>(sched.npidle.load());
    s.spinning_threads = static_cast<unsigned>(sched.nmspinning.load());
    s.blocking_calls = static_cast<unsigned>(sched.nblocking.load());
    {
      std::lock_guard lock(sched.lock);
      s.threads = static_cast<unsigned>(sched.ms.size());
    }
    s.goroutines = live_goroutines();
    s.spawned = sched.external_spawned.load();
    for (auto& p : sched.ps) {
      s.spawned += p->counters.spawned.get();
      s.context_switches += p->counters.switches.get();
      s.steals += p->counters.steals.get();
      s.stolen += p->counters.stolen.get();
      s.run_queues.push_back(p->runq.size() + (p->runq.has_next() ? 1 : 0));
    }
    s.worker_parks = sched.parks.load();
    s.worker_unparks = sched.unparks.load();
    s.handoffs = sched.handoffs.load();
    s.retakes = sched.retakes.load();
    s.preempt_handoffs = sched.preempt_handoffs.load();
    s.global_queue = sched.globalq->size();
    return s;
  }, Stats{});
}

unsigned procs() {
  return with_runtime([] { return sched.nprocs; }, 0u);
}

std::size_t num_goroutines() {
  return with_runtime([] { return live_goroutines(); }, std::size_t{0});
}

std::uint64_t goroutine_id() {
  M* m = current_m();
  return m && m->curg ? m->curg->id.load(std::memory_order_relaxed) : 0;
}

}  // namespace goro
