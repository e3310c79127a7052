// runtime/sched/gpool.hpp — where G records come from and go back to.
//
// Gs are allocated in slabs and never freed while the runtime runs: a finished G returns to the
// free list of the P it finished on (GCache, no locking) and is reused by the next spawn there.
// The per-P lists trade batches with one global list, as Go's gfget/gfput do: a P that spawns
// many goroutines which other Ps run and finish would otherwise drain its own list while the
// others' grow. Because Gs are never freed, goro::dump can walk every slab at any time.
#pragma once

#include "sched/g.hpp"

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace goro::rt {

class GPool {
 public:
  static constexpr std::size_t kSlabGs = 256;

  // Detaches up to `n` free Gs (allocating a slab if needed) as a list linked through G::link.
  G* take(std::size_t n, std::size_t& got);
  void give(G* head, G* tail, std::size_t n);
  void stop();  // frees every slab; no G may be in use
#if GORO_ASAN
  void keep_for_leak_checker();  // stop() will leave the slabs allocated, visible to LSan
#endif

  // Calls f(G&) for every G ever allocated in this run, free ones included.
  template <class F>
  void for_each(F&& f) {
    std::vector<G*> slabs;
    {
      std::lock_guard lock(mu_);
      slabs.reserve(slabs_.size());
      for (auto& s : slabs_) slabs.push_back(s.get());
    }
    for (G* slab : slabs)
      for (std::size_t i = 0; i < kSlabGs; ++i) f(slab[i]);
  }

 private:
  std::mutex mu_;
  G* free_ = nullptr;
  std::size_t nfree_ = 0;
  std::vector<std::unique_ptr<G[]>> slabs_;
};

// The free Gs of one P.
class GCache {
 public:
  static constexpr std::size_t kCapacity = 64;  // Go keeps 64 per P and moves 32 at a time

  G* get(GPool& pool) {
    if (!head_) head_ = pool.take(kCapacity / 2, n_);
    G* g = head_;
    head_ = g->link;
    --n_;
    return g;
  }

  void put(GPool& pool, G* g) {
    if (n_ == kCapacity) {
      G* tail = head_;
      for (std::size_t i = 1; i < kCapacity / 2; ++i) tail = tail->link;
      G* keep = tail->link;
      pool.give(head_, tail, kCapacity / 2);
      head_ = keep;
      n_ -= kCapacity / 2;
    }
    g->link = head_;
    head_ = g;
    ++n_;
  }

  void clear() {
    head_ = nullptr;
    n_ = 0;
  }

 private:
  G* head_ = nullptr;
  std::size_t n_ = 0;
};

}  // namespace goro::rt
