// runtime/time/heap.hpp — a P's timers: a 4-ary min-heap on the deadline, as Go's.
//
// Each P owns one TimerHeap; a timer is armed in the heap of the P that armed it. The heap has
// its own lock because other threads touch it too: an idle worker runs the expired timers of a
// busy P (so a timer fires on time while its P computes), stop()/reset() may come from any
// thread, and a plain thread may arm timers. The heap array holds pointers to TimerEntry
// records owned elsewhere — on a sleeping goroutine's stack, or in a goro::Timer's state — so
// arming a timer allocates nothing. Next to each pointer it keeps a copy of the deadline: a sift
// compares deadlines in the array alone, never loading the entries, each on a different
// goroutine's stack page (a cache and a TLB miss apiece: with 100k sleeping goroutines, sifting
// through the entries was an eighth of the time of the sleep benchmark).
//
// A sleeper's entry goes further: it is `fire_only`, so the heap never writes to it and reads it
// only to fire it. It needs no position (nobody removes it but the heap, from the top), no seq
// (nobody stops or resets it) and no period. Popping a batch of due sleepers then touches none
// of their stack pages, and firing them prefetches them all first, so that their misses overlap.
// Before, sifts wrote every moved entry's position, and each pop loaded the entry's seq under
// the lock: that one load was 93% of run_expired, and run_expired 14% of the sleep benchmark's
// samples (3% after).
//
// Firing. run_expired() pops what is due under the lock and calls each entry's `fire` after
// releasing it (a fire may ready goroutines, send on channels, spawn). A fire races with a
// concurrent stop()/reset() of the same timer, which the owner settles with `seq`: stop/reset
// bump it, a pop records it, and a fire whose recorded seq is stale must do nothing.
//
// 4-ary rather than binary: half the depth, and the four children of a node share a cache line
// of the array (Go's measurement, runtime/time.go).
#pragma once

#include "os/spinlock.hpp"

#include <atomic>
#include <cstdint>
#include <vector>

namespace goro::rt {

class TimerHeap;

struct TimerEntry {
  std::int64_t when = 0;    // deadline, steady_clock nanoseconds
  std::int64_t period = 0;  // > 0: re-armed every period (tickers), keeping to its phase
  // Called with no lock held (a periodic entry is already back in the heap).
  void (*fire)(TimerEntry* t, std::uint64_t seq, std::int64_t now) = nullptr;
  // The owner's say in the entry (null: none), for what the heap does without firing:
  //   drop: instead of fire, when the heap is discarded (the runtime stopped) while armed;
  //   keep: a periodic entry is being re-armed to fire, under the heap's lock — its owner keeps
  //         it alive until fire() has run (a disarm may come in between); fire() undoes that;
  //   wakes: asked under the heap's lock, for deadlock detection: could firing it wake a
  //         goroutine? The return value answers (it means nothing for the other events). An
  //         entry without an owner can.
  enum class Event { drop, keep, wakes };
  bool (*owner)(TimerEntry* t, Event e) = nullptr;
  std::atomic<std::uint64_t> seq{0};
  std::atomic<TimerHeap*> heap{nullptr};  // where armed; changed under that heap's lock
  std::uint32_t index = 0;                // the position in `heap`
  // A one-shot entry that leaves the heap only by firing: never disarmed, never periodic, its
  // seq unused. The heap keeps neither `heap` nor `index` for it (disarm() finds it unarmed).
  bool fire_only = false;
};

class TimerHeap {
 public:
  os::SpinLock lock;

  // With `lock` held.
  void add_locked(TimerEntry* t);
  bool remove_locked(TimerEntry* t);  // false if t is not armed here

  // Fires every entry due by `now`. Returns how many fired.
  int run_expired(std::int64_t now);

  // The earliest deadline, or 0 if empty. Readable without the lock.
  std::int64_t earliest() const { return earliest_.load(std::memory_order_seq_cst); }
  std::size_t size() const { return size_.load(std::memory_order_relaxed); }

  // The runtime stopped: disarm everything (calling `drop` where set).
  void discard();

  // Whether firing some entry could wake a goroutine (TimerEntry::Event::wakes). Looks at every
  // entry until one can: for deadlock detection only, when nothing else is awake.
  bool any_wakes();

 private:
  struct Slot {
    std::int64_t when;    // entry()->when, which changes only while out of the heap (or at [0])
    std::uintptr_t bits;  // the entry's address, with the low bit set if it is fire_only
    TimerEntry* entry() const { return reinterpret_cast<TimerEntry*>(bits & ~std::uintptr_t{1}); }
    bool fire_only() const { return bits & 1; }
  };
  void remove_at(std::uint32_t i);
  void sift_up(std::uint32_t i);
  void sift_down(std::uint32_t i);
  void place(std::uint32_t i, Slot s) {
    heap_[i] = s;
    if (!s.fire_only()) s.entry()->index = i;
  }
  void changed() {
    earliest_.store(heap_.empty() ? 0 : heap_[0].when, std::memory_order_seq_cst);
    size_.store(heap_.size(), std::memory_order_relaxed);
  }

  std::vector<Slot> heap_;
  std::atomic<std::int64_t> earliest_{0};
  std::atomic<std::size_t> size_{0};
};

}  // namespace goro::rt
