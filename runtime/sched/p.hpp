// runtime/sched/p.hpp — P: a processor, the right to run goroutines.
//
// There are exactly `procs` Ps (GOMAXPROCS). A worker thread (M) must hold a P to run goroutines;
// everything a P owns is used without locks by the M holding it: the local run queue's owner
// end, the free-G and free-stack caches, a batch of goroutine ids, the random state for
// stealing, and the statistics counters.
#pragma once

#include "fiber/stack.hpp"
#include "sched/globalq.hpp"
#include "sched/gpool.hpp"
#include "sched/runq.hpp"
#include "time/heap.hpp"

#include <atomic>
#include <cstdint>
#include <vector>

namespace goro::rt {

struct M;

// A counter with a single writer (the M holding the P) and any number of readers: a plain
// load-add-store, no read-modify-write, and still a whole value for stats(). Release and acquire
// (free on x86) let a reader that sees an exit also see the spawn before it (diag/stats.cpp).
class Counter {
 public:
  void add(std::uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_release);
  }
  std::uint64_t get() const { return v_.load(std::memory_order_acquire); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// xorshift64*: victim order and the like need speed, not quality.
class FastRand {
 public:
  explicit FastRand(std::uint64_t seed = 0x9E3779B97F4A7C15ull) : s_(seed | 1) {}
  std::uint64_t next64() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1Dull;
  }
  std::uint32_t next() { return static_cast<std::uint32_t>(next64() >> 32); }
  std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>((std::uint64_t{next()} * n) >> 32); }

 private:
  std::uint64_t s_;
};

enum class PStatus : std::uint8_t {
  idle,     // in the idle list
  running,  // held by an M
  syscall,  // reserved by an M whose goroutine is inside blocking(); the monitor may retake it
};

struct alignas(64) P {
  explicit P(unsigned index) : id(index), stacks(index), rng(0x9E3779B97F4A7C15ull * (index + 1)) {}

  const unsigned id;
  std::atomic<PStatus> status{PStatus::idle};
  std::atomic<M*> owner{nullptr};              // the M holding it (running), for the monitor
  std::atomic<std::uint32_t> syscall_tick{0};  // blocking() calls entered with this P
  RunQueue runq;
  TimerHeap timers;  // locked: other threads run and disarm this P's timers too

  // Owned by the M holding this P.
  P* idle_link = nullptr;         // the idle P list (sched lock)
  std::uint32_t schedtick = 0;    // time slices started (runnext hand-offs don't start one)
  std::uint32_t inherited = 0;    // consecutive runnext hand-offs in the current slice
  bool timers_due = false;        // check timers at the next switch (dispatch.hpp)
  GCache gfree;
  StackCache stacks;
  std::uint64_t next_goid = 0, goid_end = 0;
  FastRand rng;
  std::vector<std::vector<P*>> victims;  // other Ps by topology distance, nearest tier first
  // Per victim (by id), as a thief (steal.cpp): when this P first saw goroutines waiting in the
  // victim's ring (and the ring's tail then), and in its runnext (and its switch count then).
  struct Sighting {
    std::uint32_t tail = 0;
    std::int64_t since = 0;  // 0: nothing seen waiting
    const G* next = nullptr;
    std::uint64_t switches = 0;
    std::int64_t next_since = 0;
  };
  std::vector<Sighting> sightings;

  struct {
    Counter spawned, exited, switches, steals, stolen;
  } counters;
};

}  // namespace goro::rt
