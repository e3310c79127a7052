// runtime/sched/gpool.hpp — where G records come from and go back to.
//
// Gs are allocated in 2 MiB slabs and never freed (the next run reuses them): a finished G returns
// to the cache of the P it finished on (GCache, no locking) and is reused by the next spawn there.
// The per-P caches trade batches with one global pool, as Go's gfget/gfput do: a P that spawns
// many goroutines which other Ps run and finish would otherwise drain its own cache while the
// others' grow. Both hold G pointers in arrays, so moving a batch is a memcpy that does not touch
// the (often cold) G records themselves. Because Gs are never freed, goro::dump can walk every
// slab at any time.
//
// A slab is one transparent huge page where the kernel allows it (THP "madvise" mode is common):
// a burst of a million goroutines then costs 64 page faults for its G records instead of 32768,
// and on this VM a fault costs 3-5 µs — the difference is most of the cost of such a burst.
#pragma once

#include "os/spinlock.hpp"
#include "sched/g.hpp"

#include <cstddef>
#include <mutex>
#include <vector>

namespace goro::rt {

class GPool {
 public:
  static constexpr std::size_t kSlabBytes = std::size_t{2} << 20;
  static constexpr std::size_t kSlabGs = kSlabBytes / sizeof(G);

  // Moves `n` free Gs into `out`, allocating a slab if needed.
  void take(G** out, std::size_t n);
  void give(G* const* gs, std::size_t n);
  void stop();  // every G back to the free list, its memory to the kernel; no G may be in use
#if GORO_ASAN
  void keep_for_leak_checker();  // stop() will leave the slabs allocated, visible to LSan
#endif

  // Calls f(G&) for every G ever allocated, free ones included.
  template <class F>
  void for_each(F&& f) {
    std::vector<G*> slabs;
    {
      std::lock_guard lock(mu_);
      slabs = slabs_;
    }
    for (G* slab : slabs)
      for (std::size_t i = 0; i < kSlabGs; ++i) f(slab[i]);
  }

 private:
  os::SpinLock mu_;
  std::vector<G*> free_;
  std::vector<G*> slabs_;
};

// The free Gs of one P.
class GCache {
 public:
  static constexpr std::size_t kCapacity = 64;  // Go keeps 64 per P and moves 32 at a time

  G* get(GPool& pool) {
    if (n_ == 0) {
      pool.take(items_, kCapacity / 2);
      n_ = kCapacity / 2;
    }
    return items_[--n_];
  }

  void put(GPool& pool, G* g) {
    if (n_ == kCapacity) {
      pool.give(items_ + kCapacity / 2, kCapacity / 2);
      n_ = kCapacity / 2;
    }
    items_[n_++] = g;
  }

  void clear() { n_ = 0; }

 private:
  G* items_[kCapacity];
  std::size_t n_ = 0;
};

}  // namespace goro::rt
