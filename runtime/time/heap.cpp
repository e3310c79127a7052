// runtime/time/heap.cpp
#include "time/heap.hpp"

#include "os/clock.hpp"

#include <mutex>

namespace goro::rt {

void TimerHeap::add_locked(TimerEntry* t) {
  static_assert(alignof(TimerEntry) > 1, "Slot::bits keeps a flag in the address's low bit");
  heap_.push_back(Slot{t->when, reinterpret_cast<std::uintptr_t>(t) | std::uintptr_t{t->fire_only}});
  if (!t->fire_only) t->heap.store(this, std::memory_order_relaxed);  // once in: push_back may throw
  sift_up(static_cast<std::uint32_t>(heap_.size() - 1));
  changed();
}

bool TimerHeap::remove_locked(TimerEntry* t) {
  if (t->heap.load(std::memory_order_relaxed) != this) return false;
  remove_at(t->index);
  return true;
}

void TimerHeap::remove_at(std::uint32_t i) {
  const Slot gone = heap_[i];
  const Slot last = heap_.back();
  heap_.pop_back();
  if (i < heap_.size()) {
    place(i, last);
    if (i > 0 && heap_[(i - 1) / 4].when > last.when) sift_up(i);
    else sift_down(i);
  }
  // Release: disarm() reads `heap` without the lock, and on seeing null must also see this
  // heap's last reads of the entry (its owner may re-arm and rewrite it at once).
  if (!gone.fire_only()) gone.entry()->heap.store(nullptr, std::memory_order_release);
  changed();
}

int TimerHeap::run_expired(std::int64_t now) {
  constexpr int kBatch = 32;  // fire in batches: the lock is not held while firing
  int fired = 0;
  for (;;) {
    TimerEntry* due[kBatch];
    std::uint64_t seqs[kBatch];
    int n = 0;
    {
      std::lock_guard guard(lock);
      while (n < kBatch && !heap_.empty() && heap_[0].when <= now) {
        TimerEntry* t = heap_[0].entry();
        const bool fire_only = heap_[0].fire_only();  // then touch nothing of t until it fires
        seqs[n] = fire_only ? 0 : t->seq.load(std::memory_order_acquire);
        if (!fire_only && t->period > 0) {
          // Next tick after now, skipping the ones missed (Go's ticker drops them too).
          t->when = os::later(now, t->period - (now - t->when) % t->period);
          heap_[0].when = t->when;
          sift_down(0);
          if (t->owner) t->owner(t, TimerEntry::Event::keep);
        } else {
          remove_at(0);
        }
        due[n++] = t;
      }
      changed();
    }
    for (int i = 0; i < n; ++i) __builtin_prefetch(due[i]);  // overlap the misses
    for (int i = 0; i < n; ++i) due[i]->fire(due[i], seqs[i], now);
    fired += n;
    if (n < kBatch) return fired;
  }
}

void TimerHeap::discard() {
  std::vector<Slot> armed;
  {
    std::lock_guard guard(lock);
    armed.swap(heap_);
    for (const Slot& s : armed)
      if (!s.fire_only()) s.entry()->heap.store(nullptr, std::memory_order_release);
    changed();
  }
  for (const Slot& s : armed)
    if (TimerEntry* t = s.entry(); t->owner) t->owner(t, TimerEntry::Event::drop);
}

bool TimerHeap::any_wakes() {
  std::lock_guard guard(lock);
  for (const Slot& s : heap_) {
    if (s.fire_only()) return true;  // a sleeper
    TimerEntry* t = s.entry();
    if (!t->owner || t->owner(t, TimerEntry::Event::wakes)) return true;
  }
  return false;
}

void TimerHeap::sift_up(std::uint32_t i) {
  const Slot s = heap_[i];
  while (i > 0) {
    const std::uint32_t parent = (i - 1) / 4;
    if (heap_[parent].when <= s.when) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, s);
}

void TimerHeap::sift_down(std::uint32_t i) {
  const auto n = static_cast<std::uint32_t>(heap_.size());
  const Slot s = heap_[i];
  for (;;) {
    const std::uint32_t first = 4 * i + 1;
    if (first >= n) break;
    std::uint32_t best = first;
    const std::uint32_t end = first + 4 < n ? first + 4 : n;
    for (std::uint32_t c = first + 1; c < end; ++c)
      if (heap_[c].when < heap_[best].when) best = c;
    if (heap_[best].when >= s.when) break;
    place(i, heap_[best]);
    i = best;
  }
  place(i, s);
}

}  // namespace goro::rt
