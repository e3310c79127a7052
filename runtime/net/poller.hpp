// runtime/net/poller.hpp — the network poller: epoll inside the scheduler (Go's netpoll).
//
// Every socket is non-blocking and registered once, for its life, edge-triggered for both
// directions. An operation first tries the syscall; only on EAGAIN does the goroutine wait on
// the socket's PollDesc, and a readiness event wakes it to try again.
//
// PollDesc::rg / wg (Go's pollDesc semaphores), one per direction:
//   kNil    nothing happened, nobody waits
//   kReady  an event arrived and nobody consumed it yet
//   kWait   a party is about to park (between "no event" and its park committing)
//   other   the Waiter* of the parked party
// A waiter moves nil → wait, parks, and commits wait → Waiter* once off its stack (the park
// protocol); if an event raced in (wait → ready) the commit fails and it does not sleep. An
// event, a deadline or close() swaps in ready/nil and wakes whatever Waiter was there.
//
// Who calls epoll_wait: a worker looking for work polls without blocking (schedule.cpp); and
// when nothing at all is runnable, one worker — the same role as the timer poller, which this
// extends — blocks in epoll_wait with the nearest timer as its timeout. An eventfd in the set
// lets anyone interrupt it: an earlier timer, or the runtime stopping. There is no poller
// thread: readiness is handled by whichever worker is idle.
//
// PollDescs come from a pool and are never freed; the epoll data carries a sequence number with
// the pointer, so an event for a socket closed (and its PollDesc reused) while the event was in
// flight is recognised as stale and dropped. When the runtime stops, the sockets still open are
// closed (nothing leaks) and their PollDescs retired, not reused.
#pragma once

#include "os/never_destroyed.hpp"
#include "os/spinlock.hpp"
#include "sched/wait.hpp"
#include "time/heap.hpp"
#include "time/timers.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace goro::rt {

struct PollDesc {
  int fd = -1;
  // Bumped on every reuse (stale-event check). Atomic: poll() reads it on another thread, and the
  // epoll_ctl that orders our write before the event is invisible to ThreadSanitizer.
  std::atomic<std::uint32_t> seq{0};
  std::atomic<std::uintptr_t> rg{0}, wg{0};
  std::atomic<bool> closing{false};
  // Set by poll() when an event reported an end of stream, an error or urgent data, and never cleared:
  // a read then stops short of the end of stream, the error or the data behind an urgent mark,
  // and no further event would say so — a short read no longer means an empty socket.
  std::atomic<bool> short_reads_unreliable{false};

  // Deadlines (steady-clock ns; 0 none; -1 passed), under `lock`, with one timer per direction.
  os::SpinLock lock;
  std::int64_t rd = 0, wd = 0;
  TimerEntry rtimer, wtimer;
  PollDesc* next_free = nullptr;
};

enum class PollResult { ready, closing, timeout };

class Poller {
 public:
  void start();  // with the runtime
  void stop();   // after every worker has left: closes the sockets still open

  // Registers fd (non-blocking). Returns its PollDesc.
  PollDesc* open(int fd);
  // Marks pd closing, wakes its waiters (they see PollResult::closing), deregisters fd.
  void close(PollDesc* pd);
  // Returns pd to the pool once nothing can touch it any more (after ::close of its fd).
  void release(PollDesc* pd);
  std::size_t open_sockets();  // registered and not yet released

  // Before a syscall: closing, or the deadline for that direction already passed?
  PollResult check(PollDesc* pd, bool write);
  // Consumes an event that arrived for that direction since the last wait or take_event: true if
  // there was one.
  bool take_event(PollDesc* pd, bool write) {
    std::atomic<std::uintptr_t>& gate = write ? pd->wg : pd->rg;
    return gate.load(std::memory_order_acquire) == kReady &&
           gate.exchange(kNil, std::memory_order_acq_rel) == kReady;
  }
  // Waits until fd may be ready for `write` or not. The caller then retries its syscall.
  PollResult wait(PollDesc* pd, bool write);
  // Sets a read and/or write deadline (steady-clock ns; 0 clears it).
  void set_deadline(PollDesc* pd, std::int64_t when, bool read, bool write);

  // Collects what epoll reports within `timeout_ns` (0: don't block; -1: forever): wakes plain
  // threads, readies goroutines (onto the caller's P, else the global queue). Returns how many
  // goroutines were readied.
  int poll(std::int64_t timeout_ns);
  // Makes a blocked poll() return (eventfd).
  void interrupt();

  // When epoll was last asked (steady-clock ns).
  std::int64_t last_poll() const { return last_poll_.load(std::memory_order_relaxed); }
  // Parties parked on some PollDesc right now (epoll is worth polling only if > 0).
  int waiters() const {
    return waiters_.load(std::memory_order_seq_cst) + thread_waiters_.load(std::memory_order_seq_cst);
  }
  bool started() const { return epfd_ >= 0; }

  // A deadline's timer fired; seq is the timer's as it was popped (stale if the deadline moved
  // or the socket closed since).
  void timer_fired(PollDesc* pd, bool read, std::uint64_t seq);

 private:
  // A deadline passed (rd or wd already -1): wakes the parties waiting in those directions.
  void deadline_passed(PollDesc* pd, bool read, bool write);

  static constexpr std::uintptr_t kNil = 0, kReady = 1, kWait = 2;

  static Waiter* unblock(std::atomic<std::uintptr_t>& gate, bool io_ready);

  int epfd_ = -1;
  int eventfd_ = -1;
  std::atomic<bool> interrupting_{false};
  // Parked goroutines, and plain threads (a worker inside blocking() among them), counted apart:
  // start() forgets the goroutines a stopped run abandoned where they waited, but a plain thread
  // woken by that stop may leave its wait after the next run started, and its decrement must
  // find its own increment there (or the count reads 0 while someone waits).
  std::atomic<int> waiters_{0};
  std::atomic<int> thread_waiters_{0};
  std::atomic<std::int64_t> last_poll_{0};

  // PollDescs live as long as the process (a late caller may still look at one after its socket
  // closed, socket.cpp), so the list of them is never destroyed either: static destruction at
  // exit would otherwise leave them unreachable, and LeakSanitizer would call them leaks.
  std::mutex pool_mu_;
  PollDesc* free_ = nullptr;
  std::vector<PollDesc*>& all_ = *new std::vector<PollDesc*>;
};

// Never destroyed (os/never_destroyed.hpp): the workers may still be polling.
extern os::NeverDestroyed<Poller> poller_storage;
inline constinit Poller& poller = poller_storage.value;

}  // namespace goro::rt
