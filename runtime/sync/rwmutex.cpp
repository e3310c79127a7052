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

}  // namespace

struct RWMutexAccess {
  // A reader, queued behind a writer, whose goroutine the runtime abandoned (sync/waitlist.hpp).
  // It is counted in readers_: left there, the writer's unlock would count it as a reader let
  // in (for good: it never unlocks), and the next lock() would wait for it forever.
  static void abandoned_reader(SyncWaiter& w) {
    static_cast<RWMutex*>(w.owner)->readers_.fetch_sub(1, std::memory_order_relaxed);
  }
};

void RWMutex::lock_shared() {
  if (readers_.fetch_add(1, std::memory_order_acquire) < 0)  // a writer is pending: wait
    sema_acquire(reader_sema_, WaitReason::sync_rwmutex_rlock, false,
                 &RWMutexAccess::abandoned_reader, this);
  else
    note_plain_thread();  // a plain thread holding it may wake a writer later
}

bool RWMutex::try_lock_shared() {
  std::int32_t c = readers_.load(std::memory_order_relaxed);
  for (;;) {
    if (c < 0) return false;
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
  if (departing_.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) sema_release(writer_sema_);
}

void RWMutex::lock() {
  writer_.lock();
  const std::int32_t r = readers_.fetch_sub(kMaxReaders, std::memory_order_acquire);
  // Wait for the readers that were in.
  if (r != 0 && departing_.fetch_add(r, std::memory_order_acquire) + r != 0)
    sema_acquire(writer_sema_, WaitReason::sync_rwmutex_lock);
}

bool RWMutex::try_lock() {
  if (!writer_.try_lock()) return false;
  std::int32_t none = 0;
  if (!readers_.compare_exchange_strong(none, -kMaxReaders, std::memory_order_acquire)) {
    writer_.unlock();
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
