// runtime/sched/steal.cpp — an idle P takes work from a busy one.
//
// A spinning M (idle.cpp) with an empty local queue visits the other Ps and takes half of the
// first ring that has had goroutines waiting long enough (runq.hpp: one CAS per steal, however
// many goroutines move). Victims are visited nearest first by topology — same core, then same
// cache, then same NUMA node, then the rest (topology.cpp) — so stolen goroutines keep their
// data in a shared cache where possible; within a tier the order is random, so thieves spread
// out instead of all hitting the same victim.
//
// Waiting long enough. Go steals whatever it finds. But the goroutines in a busy P's ring are
// often a group that talks over channels — a consumer readying the producers it just made room
// for — and will run there within microseconds, with hot caches; a thief that takes them splits
// the group over two cores, and then every channel operation moves cache lines between them
// (the select benchmark: 440k steals for 2M messages and ~1.9× the time at procs 2 of procs 1).
// So a thief notes when it first saw goroutines waiting in a ring (the ring's tail then) and
// takes them only if they are still there kRingGraceNs later: that P is busy with something
// else. Meanwhile it waits without touching that P's cache lines (schedule.cpp's
// wait_to_steal), and after kMaxStealWaitNs of such waiting it takes what is there at once.
//
// Stranded goroutines. A server's workers seldom get to stealing: a worker whose queue runs dry
// polls the network first (as Go's findrunnable does), and under load that always readies more.
// Meanwhile the goroutines in another P's ring wait for as long as the OS keeps that P's thread
// off the CPU — a whole scheduler tick (4 ms here) when the cores are shared with other
// processes. So while anyone waits on the network, a worker first looks at one other P and takes
// the goroutines that have waited kRingGraceNs in its ring (steal_stranded), without spinning or
// waiting for more.
// (echo, client and server sharing the two cores: p99 4.3 ms → 2.0 ms, same throughput.)
//
// runnext is taken only in the last round, and only if it has held the same goroutine for
// kRunnextGraceNs while its P did not switch once (it is stuck in a long goroutine): runnext is
// usually a goroutine its P is about to switch to (the other half of a channel hand-off). In the
// last round the thief also fires every P's overdue timers (time/timers.hpp).
#include "sched/sched.hpp"

#include "os/clock.hpp"
#include "sched/dispatch.hpp"
#include "sched/topology.hpp"
#include "time/timers.hpp"

namespace goro::rt {
namespace {

constexpr int kStealRounds = 4;  // Go's stealTries
// Go waits 3 µs before stealing runnext: "a sync chan send/recv takes ~50ns ... 3us gives ~50x
// overshoot". Same reasoning, same number.
constexpr std::int64_t kRunnextGraceNs = 3000;
// A ring holds a few such hand-offs' worth of goroutines: 10× more. (select benchmark, ns per
// message at 0 / 10 / 30 / 100 µs: 219 / 149 / 126 / 126; echo throughput unchanged.)
constexpr std::int64_t kRingGraceNs = 30000;

// Whether what this thief first saw waiting at `since` has waited `grace` by `now` (and then
// forgets the sighting: the caller steals); if not, lowers `retry_at` to when it will have.
bool grace_over(std::int64_t& since, std::int64_t now, std::int64_t grace, std::int64_t& retry_at) {
  if (now - since < grace) {
    const std::int64_t due = since + grace;
    if (retry_at == 0 || due < retry_at) retry_at = due;
    return false;
  }
  since = 0;
  return true;
}

// Whether goroutines in victim's ring have waited there `grace` since this thief first saw them.
bool waited_long_enough(P* self, P* victim, std::int64_t grace, std::int64_t& retry_at) {
  P::Sighting& seen = self->sightings[victim->id];
  const std::uint32_t head = victim->runq.taken_so_far();
  const std::uint32_t tail = victim->runq.put_so_far();
  if (head == tail) {  // nothing there
    seen.since = 0;
    return false;
  }
  const std::int64_t now = os::now_ns();
  // Still there: some goroutine that was in the ring when we looked last (head has not passed
  // the tail we saw then). Otherwise these are new arrivals: start the clock for them.
  if (seen.since == 0 || static_cast<std::int32_t>(head - seen.tail) >= 0) {
    seen.tail = tail;
    seen.since = now;
  }
  return grace_over(seen.since, now, grace, retry_at);
}

// Whether victim's runnext goroutine has waited there `grace` while the victim did not switch
// once (it is stuck in one long goroutine).
bool next_is_stale(P* self, P* victim, std::int64_t grace, std::int64_t& retry_at) {
  P::Sighting& seen = self->sightings[victim->id];
  const G* next = victim->runq.peek_next();
  if (!next) {
    seen.next_since = 0;
    return false;
  }
  const std::uint64_t switches = victim->counters.switches.get();
  const std::int64_t now = os::now_ns();
  if (seen.next_since == 0 || seen.next != next || seen.switches != switches) {
    seen.next = next;
    seen.switches = switches;
    seen.next_since = now;
  }
  return grace_over(seen.next_since, now, grace, retry_at);
}

G* try_steal(P* self, P* victim, bool include_next, bool patient, std::int64_t& retry_at) {
  std::uint32_t moved = 0;
  G* g = nullptr;
  if (waited_long_enough(self, victim, patient ? kRingGraceNs : 0, retry_at))
    g = victim->runq.steal_into(self->runq, false, moved);
  if (!g && include_next && retry_at == 0 &&
      next_is_stale(self, victim, patient ? kRunnextGraceNs : 0, retry_at))
    g = victim->runq.steal_into(self->runq, true, moved);
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
    p->sightings.assign(sched.nprocs, {});
  }
}

G* steal_stranded(M* m) {
  // One P per call, at random: a busy server's workers come here every few microseconds, and
  // looking at every P each time would cost a cache miss per P. A P looked at less often is
  // judged the same way: what is still in its ring since the last look has waited that long.
  P* self = m->p;
  const unsigned n = sched.nprocs;
  if (n < 2) return nullptr;
  unsigned i = self->rng.below(n - 1);
  if (i >= self->id) ++i;
  std::int64_t retry_at = 0;  // not waited for: the caller goes on to the network
  return try_steal(self, sched.ps[i].get(), false, true, retry_at);
}

G* steal_work(M* m, bool patient, std::int64_t& retry_at) {
  P* self = m->p;
  retry_at = 0;
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
        if (G* g = try_steal(self, tier[(start + i) % n], last, patient, retry_at)) return g;
      }
    }
  }
  return nullptr;
}

}  // namespace goro::rt
