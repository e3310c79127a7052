// runtime/sync/rwmutex.cpp — goro::RWMutex: Go's sync.RWMutex (sync/rwmutex.go).
//
// A writer first takes writer_ (so writers queue among themselves), then subtracts kMaxReaders
// from readers_: from that moment new readers see a negative count and queue behind it — a
// waiting writer blocks new readers, so writers never starve. The readers already in are
// counted into departing_; the last of them to leave wakes the writer. On unlock the writer adds
// kMaxReaders back and wakes the readers that queued meanwhile.
//
// Unlike Go, unlock() releases writer_ first and lets readers in last. A reader let in may see
// that the writer is done and destroy the RWMutex (a writer's std::shared_mutex::unlock may be
// followed at once by that); Go's order (readers first, writer_ last) would then write freed
// memory. So the next writer can take writer_ while the previous one has not added kMaxReaders
// back yet (readers_ is then kMaxReaders lower still). Its lock() sees readers_ < 0 and leaves
// the counting to the previous writer, whose add then returns a negative count too: it lets in
// the readers that queued (they go first, as in Go), counts them into departing_ for the next
// writer, and wakes that writer itself if there are none. (Readers that arrive between the next
// writer's subtraction and that add are among them: for that short window a waiting writer does
// not hold new readers back. Go's order has no such window.) Either way, the step that lets
// readers in is the last touch of *this that a party who may destroy it could wait for: after
// the add, unlock() goes on only to release readers that are still blocked in lock_shared() or
// a writer blocked in lock(), which keep the RWMutex alive (the last touch of each release is
// the list's unlock, before the wake-up).
//
// At most two writers are ever past writer_ without having added kMaxReaders back: the next
// writer's lock() returns only after the previous one's add (its wake-up comes after it), so
// readers_ >= -2 * kMaxReaders = INT32_MIN.
#include "sync/fatal.hpp"
#include "sync/waitlist.hpp"

// In unlock(), between releasing writer_ and adding kMaxReaders back: where another writer can
// come in. A test that compiles this file into itself defines the macro to let one in there
// (tests/sync_test.cpp); the library's own copy has nothing here.
#ifndef GORO_TEST_WRITER_RELEASED
#define GORO_TEST_WRITER_RELEASED(readers)
#endif

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
  // program), and that token must go to nobody. No unlock() is midway while settling: a plain
  // thread holds a WakeFence across it, and a goroutine has no scheduling point in it; so no
  // other writer can be pending behind an unlock that has yet to release its readers. The CAS
  // decides between the two atomically with the writer's unlock().
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
  // go to nobody. Not under this list's lock: a next writer may take writer_ as soon as it is
  // released, before unlock() adds kMaxReaders back, and unlock() then releases this list
  // (woken_writer does it once the lock is released).
  static void unqueued_writer(SyncWaiter& w, WakeList&) {
    auto& rw = *static_cast<RWMutex*>(w.owner);
    if (rw.departing_.fetch_add(kWriterGone, std::memory_order_acq_rel) != 0) return;
    WaitQ(*w.list).owe_release();
    rw.departing_.fetch_sub(kWriterGone, std::memory_order_relaxed);
    w.settle_unlocked = true;
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
  const std::int32_t r = readers_.fetch_sub(kMaxReaders, std::memory_order_acq_rel);
  if (r < 0)  // the previous writer has not let readers in yet: it counts them for us, and wakes us
    sema_acquire(writer_sema_, WaitReason::sync_rwmutex_lock, false, &RWMutexAccess::writer, this);
  else if (r != 0 && departing_.fetch_add(r, std::memory_order_acquire) + r != 0)  // the readers in
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
  // Locked for writing, readers_ is negative (a next writer could only make it more so).
  if (readers_.load(std::memory_order_relaxed) >= 0) fatal("unlock of an RWMutex not locked for writing");
  // Held across the hand-over, so that teardown never settles a waiter midway (RWMutexAccess).
  WakeFence fence;
  writer_.unlock();  // first: once readers are in, *this may be gone (see the top)
  GORO_TEST_WRITER_RELEASED(readers_);
  const std::int32_t r = readers_.fetch_add(kMaxReaders, std::memory_order_acq_rel) + kMaxReaders;
  if (r >= 0) {  // no writer came in meanwhile: r readers queued behind us
    for (std::int32_t i = 0; i < r; ++i) sema_release(reader_sema_);
    return;
  }
  // The next writer subtracted kMaxReaders before our add: its lock() waits for us. The readers
  // that queued go first; it waits for them to leave.
  const std::int32_t queued = r + kMaxReaders;
  if (queued == 0) {
    sema_release(writer_sema_);
    return;
  }
  // Counted before they are let in: none of them can leave before, so this never reaches 0.
  departing_.fetch_add(queued, std::memory_order_acq_rel);
  for (std::int32_t i = 0; i < queued; ++i) sema_release(reader_sema_);
}

}  // namespace goro
