// runtime/sched/steal.cpp — an idle P takes work from a busy one.
//
// A spinning M (idle.cpp) with an empty local queue visits the other Ps and takes half of the
// first non-empty ring it finds (runq.hpp: one CAS per steal, however many goroutines move).
// Victims are visited nearest first by topology — same core, then same cache, then same NUMA
// node, then the rest (topology.cpp) — so stolen goroutines keep their data in a shared cache
// where possible; within a tier the order is random, so thieves spread out instead of all
// hitting the same victim.
//
// In the last round the thief also fires every P's overdue timers (time/timers.hpp). A victim's
// runnext is taken only in the last round, and only after the victim has had
// kRunnextGraceNs to run it itself: runnext is usually a goroutine its P is about to switch to
// (the other half of a channel hand-off), and stealing it would just move a hot pair apart.
#include "sched/sched.hpp"

#include "os/clock.hpp"
#include "sched/dispatch.hpp"
#include "sched/topology.hpp"
#include "time/timers.hpp"

#include <immintrin.h>

namespace goro::rt {
namespace {

constexpr int kStealRounds = 4;  // Go's stealTries
// Go waits 3 µs before stealing runnext: "a sync chan send/recv takes ~50ns ... 3us gives ~50x
// overshoot". Same reasoning, same number.
constexpr std::int64_t kRunnextGraceNs = 3000;

G* try_steal(P* self, P* victim, bool include_next) {
  std::uint32_t moved = 0;
  G* g = victim->runq.steal_into(self->runq, false, moved);
  if (!g && include_next && victim->runq.has_next()) {
    const std::int64_t until = os::now_ns() + kRunnextGraceNs;
    while (os::now_ns() < until && victim->runq.has_next()) _mm_pause();
    g = victim->runq.steal_into(self->runq, true, moved);
  }
  if (g) {
    self->counters.steals.add();
    self->counters.stolen.add(moved);
  }
  return g;
}

}  // namespace

void build_victims() {
  const Topology& topo = Topology::get();
  for (auto& p : sched.ps) {
    p->victims.assign(Topology::kDistances, {});
    for (auto& q : sched.ps)
      if (q != p) p->victims[static_cast<std::size_t>(topo.distance(p->id, q->id, sched.nprocs))].push_back(q.get());
    std::erase_if(p->victims, [](const std::vector<P*>& tier) { return tier.empty(); });
  }
}

G* steal_work(M* m) {
  P* self = m->p;
  for (int round = 0; round < kStealRounds; ++round) {
    const bool last = round == kStealRounds - 1;
    // Before stealing runnext, fire whatever is overdue on any P (its P may be busy computing).
    if (last && run_timers(self, true))
      if (G* g = next_local(self)) return g;
    for (const auto& tier : self->victims) {
      const auto n = static_cast<std::uint32_t>(tier.size());
      const std::uint32_t start = self->rng.below(n);
      for (std::uint32_t i = 0; i < n; ++i) {
        if (sched.stopping.load(std::memory_order_relaxed)) return nullptr;
        if (G* g = try_steal(self, tier[(start + i) % n], last)) return g;
      }
    }
  }
  return nullptr;
}

}  // namespace goro::rt
