// runtime/sync/rwmutex.cpp — goro::RWMutex: Go's sync.RWMutex (sync/rwmutex.go).
//
// A writer first takes writer_ (so writers queue among themselves), then subtracts kMaxReaders
// from readers_: from that moment new readers see a negative count and queue behind it — a
// waiting writer blocks new readers, so writers never starve. The readers already in are
// counted into departing_; the last of them to leave wakes the writer. On unlock the writer adds
// kMaxReaders back and wakes the readers that queued meanwhile.
#include "sync/fatal.hpp"
#include "sync/waitlist.hpp"

namespace goro {
namespace {

using namespace rt;

constexpr std::int32_t kMaxReaders = 1 << 30;
// Added to departing_ when the writer waiting for those readers is gone (settled at teardown):
// the last reader to leave unlocks for it instead of waking it.
constexpr std::int32_t kWriterGone = 1 << 29;

}  // namespace

// Settling readers and writers that a stopping runtime abandons (sync/waitlist.hpp).
struct RWMutexAccess {
  // A reader queued behind a writer is counted in readers_. While a writer is pending or holds
  // the lock (readers_ < 0), uncount it. Otherwise the writer's unlock() has already let it in,
  // and is about to release a token for it: it leaves again (it never held the lock for the
  // program), and that token must go to nobody. No other writer can be pending meanwhile: the
  // unlocking writer still holds writer_. The CAS decides between the two atomically with the
  // writer's unlock().
  static void unqueued_reader(SyncWaiter& w, WakeList&) {
    auto& readers = static_cast<RWMutex*>(w.owner)->readers_;
    std::int32_t c = readers.load(std::memory_order_relaxed);
    while (!readers.compare_exchange_weak(c, c - 1, std::memory_order_relaxed)) {
    }
    if (c >= 0) WaitQ(*w.list).owe_release();
  }
  // Let in by a writer's unlock(), its lock_shared() never returned: leave again.
  static void woken_reader(SyncWaiter& w) { static_cast<RWMutex*>(w.owner)->unlock_shared(); }
  // A writer waiting for the readers that were in to leave: its lock() will never return, so
  // the lock must be given up once they have left. Mark departing_: the last of them unlocks.
  // If none is left (the last one's wake-up is on its way), unlock now, and that wake-up must
  // go to nobody.
  static void unqueued_writer(SyncWaiter& w, WakeList&) {
    auto& rw = *static_cast<RWMutex*>(w.owner);
    if (rw.departing_.fetch_add(kWriterGone, std::memory_order_acq_rel) != 0) return;
    WaitQ(*w.list).owe_release();
    unlock_for_gone_writer(rw);
  }
  // The last reader to leave let the writer in, but its lock() never returned: unlock.
  static void woken_writer(SyncWaiter& w) { static_cast<RWMutex*>(w.owner)->unlock(); }
  static void unlock_for_gone_writer(RWMutex& rw) {
    rw.departing_.fetch_sub(kWriterGone, std::memory_order_relaxed);
    rw.unlock();
  }

  static constexpr SettleOps reader{&unqueued_reader, &woken_reader};
  static constexpr SettleOps writer{&unqueued_writer, &woken_writer};
};

void RWMutex::lock_shared() {
  if (readers_.fetch_add(1, std::memory_order_acquire) < 0)  // a writer is pending: wait
    sema_acquire(reader_sema_, WaitReason::sync_rwmutex_rlock, false, &RWMutexAccess::reader, this);
  else
    note_plain_thread();  // a plain thread holding it may wake a writer later
}

bool RWMutex::try_lock_shared() {
  std::int32_t c = readers_.load(std::memory_order_relaxed);
  for (;;) {
    if (c < 0) {
      note_plain_thread();  // a plain thread that tried may come back
      return false;
    }
    if (readers_.compare_exchange_weak(c, c + 1, std::memory_order_acquire)) {
      note_plain_thread();
      return true;
    }
  }
}

void RWMutex::unlock_shared() {
  const std::int32_t r = readers_.fetch_sub(1, std::memory_order_release) - 1;
  if (r >= 0) return;
  if (r + 1 == 0 || r + 1 == -kMaxReaders) fatal("unlock_shared of an RWMutex not locked for reading");
  // A writer is pending; the last departing reader lets it in. acq_rel, not release: the last
  // reader must acquire the earlier readers' departures so that its wake-up carries them to the
  // writer (Go's atomics are sequentially consistent; ours must say so).
  const std::int32_t left = departing_.fetch_sub(1, std::memory_order_acq_rel) - 1;
  if (left == 0) sema_release(writer_sema_);
  else if (left == kWriterGone) RWMutexAccess::unlock_for_gone_writer(*this);
}

void RWMutex::lock() {
  writer_.lock();
  const std::int32_t r = readers_.fetch_sub(kMaxReaders, std::memory_order_acquire);
  // Wait for the readers that were in.
  if (r != 0 && departing_.fetch_add(r, std::memory_order_acquire) + r != 0)
    sema_acquire(writer_sema_, WaitReason::sync_rwmutex_lock, false, &RWMutexAccess::writer, this);
}

bool RWMutex::try_lock() {
  if (!writer_.try_lock()) return false;
  std::int32_t none = 0;
  if (!readers_.compare_exchange_strong(none, -kMaxReaders, std::memory_order_acquire)) {
    writer_.unlock();
    note_plain_thread();
    return false;
  }
  return true;
}

void RWMutex::unlock() {
  const std::int32_t r = readers_.fetch_add(kMaxReaders, std::memory_order_release) + kMaxReaders;
  if (r >= kMaxReaders) fatal("unlock of an RWMutex not locked for writing");
  for (std::int32_t i = 0; i < r; ++i) sema_release(reader_sema_);  // the readers that queued
  writer_.unlock();
}

}  // namespace goro
