// goro/sync.hpp — Go's sync package, goroutine-aware: blocking parks the goroutine, never its
// worker thread. Plain threads may use them too (they sleep on a futex).
//
//   goro::Mutex mu;                       goro::WaitGroup wg;
//   {                                     for (auto& job : jobs) {
//     std::lock_guard lock(mu);             wg.add(1);
//     shared.push_back(x);                  goro::go([&, job] { run(job); wg.done(); });
//   }                                     }
//                                         wg.wait();
//
// Mutex: uncontended lock and unlock are one atomic operation each. Under contention a waiter
// spins briefly while the holder is running on another P, then queues FIFO. A waiter that has
// waited more than 1 ms switches the mutex to starvation mode (Go's): the lock is then handed
// from unlocker to the oldest waiter directly, so tail latency stays bounded.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <utility>

namespace goro {

namespace detail {

// A small lock plus a FIFO of blocked parties (goroutines or threads) and a count of tokens:
// Go's runtime semaphore, embedded in each primitive. The runtime (runtime/sync/) owns the
// meaning of the fields.
struct WaitList {
  std::atomic<bool> locked{false};
  void* head = nullptr;
  void* tail = nullptr;
  std::int32_t tokens = 0;  // releases that found nobody; negative: owed (runtime/sync/waitlist.hpp)
};

void* current_goroutine() noexcept;  // null on a plain thread
bool goroutine_running(void* g) noexcept;
// A plain thread took a primitive without waiting: it holds it, so it may wake a goroutine
// blocked on it later. Counts it as a possible waker for deadlock detection (no-op otherwise).
void note_plain_thread() noexcept;

}  // namespace detail

class Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() {
    std::int32_t unlocked = 0;
    if (!state_.compare_exchange_strong(unlocked, kLocked, std::memory_order_acquire)) lock_slow();
    void* self = detail::current_goroutine();
    if (!self) detail::note_plain_thread();
    owner_.store(self, std::memory_order_relaxed);
  }
  bool try_lock();
  void unlock() {
    owner_.store(nullptr, std::memory_order_relaxed);
    const std::int32_t now = state_.fetch_sub(kLocked, std::memory_order_release) - kLocked;
    if (now != 0) unlock_slow(now);
  }

 private:
  friend struct MutexAccess;
  static constexpr std::int32_t kLocked = 1;
  void lock_slow();
  void unlock_slow(std::int32_t state);
  void wake_waiter(std::int32_t state);

  std::atomic<std::int32_t> state_{0};  // locked | woken | starving | waiters << 3 (Go's)
  std::atomic<void*> owner_{nullptr};   // the goroutine holding it, if known: for spinning
  detail::WaitList sema_;
};

class RWMutex {
 public:
  RWMutex() = default;
  RWMutex(const RWMutex&) = delete;
  RWMutex& operator=(const RWMutex&) = delete;

  void lock();
  bool try_lock();
  void unlock();
  void lock_shared();
  bool try_lock_shared();
  void unlock_shared();

 private:
  friend struct RWMutexAccess;
  Mutex writer_;                            // held by the writer, and by one waiting writer
  std::atomic<std::int32_t> readers_{0};    // negative while a writer is pending
  std::atomic<std::int32_t> departing_{0};  // readers the pending writer still waits for
  detail::WaitList writer_sema_, reader_sema_;
};

class WaitGroup {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  // Adds delta (may be negative) to the counter; at zero, every wait() returns. A negative
  // counter throws std::logic_error.
  void add(std::int64_t delta);
  void done() { add(-1); }
  void wait();

 private:
  friend struct WaitGroupAccess;
  std::atomic<std::uint64_t> state_{0};  // counter << 32 | waiters
  detail::WaitList sema_;
};

class Once {
 public:
  Once() = default;
  Once(const Once&) = delete;
  Once& operator=(const Once&) = delete;

  // Runs f unless a call has already returned normally; concurrent callers wait for the running
  // call. If f throws, the exception propagates and the Once stays not done: the next caller
  // runs f again (std::call_once's rule; Go's Once would count the failed call as done).
  template <class F>
  void call(F&& f) {
    if (state_.load(std::memory_order_acquire) == kDone) return;
    if (!begin()) return;  // another call finished it while we waited
    try {
      std::forward<F>(f)();
    } catch (...) {
      end(false);
      throw;
    }
    end(true);
  }

 private:
  static constexpr std::uint32_t kIdle = 0, kRunning = 1, kDone = 2;
  bool begin();           // true: the caller must run f
  void end(bool done);
  std::atomic<std::uint32_t> state_{kIdle};
  detail::WaitList waiters_;
};

class Cond {
 public:
  explicit Cond(Mutex& m) : mutex_(m) {}
  Cond(const Cond&) = delete;
  Cond& operator=(const Cond&) = delete;

  // Unlocks the mutex, waits for signal() or broadcast(), locks it again. As in Go, a wake-up
  // does not mean the condition holds: check it in a loop.
  void wait();
  void signal();
  void broadcast();

 private:
  friend struct CondAccess;
  Mutex& mutex_;
  detail::WaitList waiters_;
  std::uint64_t wait_ticket_ = 0;    // under waiters_'s lock: next ticket to hand a waiter
  std::uint64_t notify_ticket_ = 0;  // tickets below this are notified
};

class Semaphore {
 public:
  explicit Semaphore(std::int64_t n);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // Waits until n units are free and takes them. FIFO: a large request is not starved by a
  // stream of small ones. n larger than the semaphore's size throws std::invalid_argument.
  void acquire(std::int64_t n = 1);
  bool try_acquire(std::int64_t n = 1);
  // A negative n throws std::invalid_argument; releasing more than is held, std::logic_error.
  void release(std::int64_t n = 1);

 private:
  friend struct SemaphoreAccess;
  const std::int64_t size_;
  std::int64_t used_ = 0;  // under waiters_'s lock
  detail::WaitList waiters_;
};

}  // namespace goro
