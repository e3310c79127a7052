// runtime/sched/runq.hpp — a P's local run queue: a bounded ring plus the runnext slot.
//
// The ring is single-producer (the owning P pushes at the tail), multi-consumer (the owner pops
// at the head; thieves take half from the head). It is Go's runq:
//   * push: a relaxed store of the slot and a release store of tail — no read-modify-write.
//   * pop:  one CAS on head. An uncontended CAS on a line the owner already holds costs about
//           what the StoreLoad fence would that any FIFO pop racing with thieves needs (the
//           owner and a thief must not both take the same slot: a Dekker handshake); the CAS
//           is that fence. A thief's CAS failing tells it to retry, never the reverse. With a
//           single P there are no thieves, and pop and take_next use plain loads and stores.
//   * steal: a thief copies half of [head, tail) into its own ring, then claims the copies with
//           one CAS on the victim's head. If the CAS fails the copies are ignored.
// head and tail are free-running 32-bit counters; slot = counter % kCapacity.
//
// runnext holds the goroutine most recently readied by the running one (a receiver just handed
// a value, a goroutine just spawned). It runs next, inheriting the current time slice, so a
// communicating pair stays on one core with hot caches. Thieves take it only as a last resort
// (steal.cpp), as Go does: an unstealable slot stalls the rest of the system (tokio #4941).
//
// The owner fills and empties runnext several times per goroutine (a spawn displaces the last
// child, a park switches to it), and a thief takes it perhaps once in millions. So the owner
// uses plain loads and stores, inside a section it announces with a plain store (owner_in_), and
// a thief makes its exchange safe with a heavy fence (os/membarrier.hpp): it announces itself
// (thief_in_), fences, and takes the slot only if the owner is not in a section; an owner that
// finds a thief announced uses exchanges for that operation. Where the kernel has no membarrier,
// the owner always uses exchanges. (Go and Tokio pay an atomic exchange or CAS on every pass.)
#pragma once

#include "os/membarrier.hpp"
#include "sched/g.hpp"

#include <atomic>
#include <cstdint>

namespace goro::rt {

class RunQueue {
 public:
  static constexpr std::uint32_t kCapacity = 256;  // Go's size; overflow goes to the global queue

  // `heavy_fences`: whether the owner may use runnext with plain loads and stores (tests turn
  // it off to check the other protocol).
  explicit RunQueue(bool heavy_fences = os::heavy_fences_available()) : heavy_fences_(heavy_fences) {}

  // ---- owner only ----

  // Appends g. False if the ring is full (the caller moves half of it to the global queue).
  bool push(G* g) {
    const std::uint32_t h = head_.load(std::memory_order_acquire);
    const std::uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t - h >= kCapacity) return false;
    buf_[t % kCapacity].store(g, std::memory_order_relaxed);
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }

  // The oldest goroutine in the ring, or null. `solo`: there is no other P, hence no thief, so
  // the owner needs no read-modify-write (the runtime runs with procs == 1).
  G* pop(bool solo) {
    if (solo) {
      const std::uint32_t h = head_.load(std::memory_order_relaxed);
      if (tail_.load(std::memory_order_relaxed) == h) return nullptr;
      G* g = buf_[h % kCapacity].load(std::memory_order_relaxed);
      head_.store(h + 1, std::memory_order_release);
      return g;
    }
    return pop();
  }
  G* pop() {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    for (;;) {
      if (tail_.load(std::memory_order_relaxed) == h) return nullptr;
      G* g = buf_[h % kCapacity].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_release,
                                      std::memory_order_acquire))
        return g;
    }
  }

  // Puts g in runnext and returns what was there (which the caller must queue). Into an empty
  // slot a plain store will do: only the owner ever makes the slot non-empty — thieves only
  // take what is there — so nobody can fill it between our load and our store.
  G* exchange_next(G* g) {
    if (!next_.load(std::memory_order_relaxed)) {
      next_.store(g, std::memory_order_release);
      return nullptr;
    }
    OwnerSection section(*this);
    if (!section.plain()) return next_.exchange(g, std::memory_order_acq_rel);
    G* old = next_.load(std::memory_order_relaxed);
    next_.store(g, std::memory_order_release);
    return old;
  }

  // Empties runnext and returns what was there. `solo`: as for pop().
  G* take_next(bool solo) {
    G* g = next_.load(solo ? std::memory_order_acquire : std::memory_order_relaxed);
    if (!g) return nullptr;
    if (solo) {  // no thief can race us (see pop)
      next_.store(nullptr, std::memory_order_relaxed);
      return g;
    }
    OwnerSection section(*this);
    if (!section.plain()) return next_.exchange(nullptr, std::memory_order_acquire);
    g = next_.load(std::memory_order_relaxed);  // a thief may have taken it before the section
    next_.store(nullptr, std::memory_order_relaxed);
    return g;
  }

  bool has_next() const { return next_.load(std::memory_order_relaxed) != nullptr; }

  // Goroutines in the ring, as the owner sees it (only the owner moves tail).
  std::uint32_t owner_size() const {
    return tail_.load(std::memory_order_relaxed) - head_.load(std::memory_order_acquire);
  }

  // When the ring is full: claims its older half for the caller to move to the global queue.
  // Returns how many Gs were written to `out` (kCapacity / 2), or 0 if a thief got there first
  // (the ring has room again).
  std::uint32_t take_half(G** out) {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    const std::uint32_t t = tail_.load(std::memory_order_relaxed);
    const std::uint32_t n = (t - h) / 2;
    if (n != kCapacity / 2) return 0;
    for (std::uint32_t i = 0; i < n; ++i)
      out[i] = buf_[(h + i) % kCapacity].load(std::memory_order_relaxed);
    if (!head_.compare_exchange_strong(h, h + n, std::memory_order_release,
                                       std::memory_order_relaxed))
      return 0;
    return n;
  }

  // ---- any thread ----

  // Thief side: moves half of this ring (or, with `include_next` and an empty ring, the runnext
  // goroutine) into `dst`, which must be the caller's own, empty ring. Returns one of the moved
  // goroutines for the caller to run (not left in dst), or null if there was nothing to take.
  G* steal_into(RunQueue& dst, bool include_next, std::uint32_t& moved) {
    const std::uint32_t dt = dst.tail_.load(std::memory_order_relaxed);
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);
      const std::uint32_t t = tail_.load(std::memory_order_acquire);
      std::uint32_t n = t - h;
      n -= n / 2;
      if (n == 0) {
        if (!include_next) return nullptr;
        G* g = steal_next();
        moved = g ? 1 : 0;
        return g;
      }
      if (n > kCapacity / 2) continue;  // read head and tail at different moments; retry
      for (std::uint32_t i = 0; i < n; ++i)
        dst.buf_[(dt + i) % kCapacity].store(buf_[(h + i) % kCapacity].load(std::memory_order_relaxed),
                                             std::memory_order_relaxed);
      if (!head_.compare_exchange_strong(h, h + n, std::memory_order_release,
                                         std::memory_order_relaxed))
        continue;
      moved = n;
      G* run = dst.buf_[(dt + n - 1) % kCapacity].load(std::memory_order_relaxed);
      if (n > 1) dst.tail_.store(dt + n - 1, std::memory_order_release);
      return run;
    }
  }

  // Goroutines in the ring (not counting runnext); exact for the owner, a snapshot for others.
  std::uint32_t size() const {
    for (;;) {
      const std::uint32_t h = head_.load(std::memory_order_acquire);
      const std::uint32_t t = tail_.load(std::memory_order_acquire);
      if (head_.load(std::memory_order_relaxed) == h) return t - h;
    }
  }
  bool empty() const { return size() == 0 && !has_next(); }

  // For the monitor: has anyone taken work from this queue lately? (head only ever advances.)
  std::uint32_t taken_so_far() const { return head_.load(std::memory_order_relaxed); }
  // For thieves: how many goroutines were ever put in the ring (tail only ever advances).
  std::uint32_t put_so_far() const { return tail_.load(std::memory_order_acquire); }
  const G* peek_next() const { return next_.load(std::memory_order_relaxed); }

 private:
  // The owner's side of runnext's handshake with thieves (see the top of this file).
  class OwnerSection {
   public:
    explicit OwnerSection(RunQueue& q) : q_(q) {
      if (!q.heavy_fences_) return;
      q.owner_in_.store(true, std::memory_order_relaxed);
      std::atomic_signal_fence(std::memory_order_seq_cst);  // a thief's heavy fence does the rest
      plain_ = !q.thief_in_.load(std::memory_order_acquire);
      if (!plain_) q.owner_in_.store(false, std::memory_order_release);
    }
    ~OwnerSection() {
      if (!plain_) return;
      std::atomic_signal_fence(std::memory_order_seq_cst);
      q_.owner_in_.store(false, std::memory_order_release);
    }
    bool plain() const { return plain_; }

   private:
    RunQueue& q_;
    bool plain_ = false;
  };

  // A thief's side: takes runnext, or returns null if it is empty, the owner is using it, or
  // another thief is taking it.
  G* steal_next() {
    if (!next_.load(std::memory_order_relaxed)) return nullptr;
    if (!heavy_fences_) return next_.exchange(nullptr, std::memory_order_acquire);
    if (thief_in_.exchange(true, std::memory_order_acquire)) return nullptr;
    os::heavy_fence();
    G* g = owner_in_.load(std::memory_order_acquire) ? nullptr
                                                      : next_.exchange(nullptr, std::memory_order_acquire);
    thief_in_.store(false, std::memory_order_release);
    return g;
  }

  std::atomic<std::uint32_t> head_{0};  // next to take; advanced by CAS (owner and thieves)
  std::atomic<std::uint32_t> tail_{0};  // next free slot; written by the owner only
  std::atomic<G*> next_{nullptr};
  std::atomic<bool> owner_in_{false}, thief_in_{false};
  const bool heavy_fences_;
  std::atomic<G*> buf_[kCapacity] = {};
};

}  // namespace goro::rt
