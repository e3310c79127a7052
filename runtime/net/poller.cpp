// runtime/net/poller.cpp — see poller.hpp for the protocol.
#include "net/poller.hpp"

#include "net/netpoll.hpp"
#include "os/clock.hpp"
#include "sched/sched.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace goro::rt {

os::NeverDestroyed<Poller> poller_storage;

namespace {

constexpr int kMaxEvents = 128;
constexpr std::uint64_t kInterruptTag = 1;  // epoll data of the eventfd (PollDescs are aligned)

std::uint64_t tag(PollDesc* pd) {
  return reinterpret_cast<std::uint64_t>(pd) | (std::uint64_t{pd->seq.load(std::memory_order_relaxed) & 0xffff} << 48);
}

[[noreturn]] void fatal_errno(const char* what) {
  std::fprintf(stderr, "goro: fatal error: %s: %s\n", what, std::strerror(errno));
  std::abort();
}

// Go's netpollblockcommit: publish the Waiter once it is off its stack; fails (the party does
// not sleep) if an event or a close slipped in after it announced kWait.
struct Commit {
  std::atomic<std::uintptr_t>* gate;
  Waiter* me;
};

bool commit(G*, void* arg) {
  auto* c = static_cast<Commit*>(arg);
  std::uintptr_t expected = 2;  // kWait
  return c->gate->compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(c->me),
                                          std::memory_order_acq_rel);
}

PollDesc* of_timer(TimerEntry* t, bool read) {
  auto* base = reinterpret_cast<char*>(t) - (read ? offsetof(PollDesc, rtimer) : offsetof(PollDesc, wtimer));
  return reinterpret_cast<PollDesc*>(base);
}

}  // namespace

void Poller::start() {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) fatal_errno("epoll_create1");
  eventfd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (eventfd_ < 0) fatal_errno("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kInterruptTag;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, eventfd_, &ev) != 0) fatal_errno("epoll_ctl(eventfd)");
  interrupting_.store(false);
  waiters_.store(0);  // not thread_waiters_ (see there)
}

void Poller::stop() {
  // Sockets still open now belong to goroutines the runtime abandons (or to handles the program
  // keeps): close their descriptors — nothing leaks — and wake any plain thread blocked on one.
  // Their PollDescs are not reused: a late caller may still look at them (socket.cpp).
  std::vector<PollDesc*> open;
  {
    std::lock_guard lock(pool_mu_);
    for (PollDesc* pd : all_)
      if (pd->fd >= 0) open.push_back(pd);
  }
  for (PollDesc* pd : open) {
    close(pd);
    ::close(pd->fd);
    pd->fd = -1;
  }
  if (epfd_ >= 0) ::close(epfd_);
  if (eventfd_ >= 0) ::close(eventfd_);
  epfd_ = eventfd_ = -1;
}

PollDesc* Poller::open(int fd) {
  PollDesc* pd;
  {
    std::lock_guard lock(pool_mu_);
    if (free_) {
      pd = free_;
      free_ = pd->next_free;
    } else {
      pd = new PollDesc;
      pd->rtimer.fire = [](TimerEntry* t, std::uint64_t seq, std::int64_t) {
        poller.timer_fired(of_timer(t, true), true, seq);
      };
      pd->wtimer.fire = [](TimerEntry* t, std::uint64_t seq, std::int64_t) {
        poller.timer_fired(of_timer(t, false), false, seq);
      };
      all_.push_back(pd);
    }
  }
  pd->fd = fd;
  pd->rg.store(kNil);
  pd->wg.store(kNil);
  pd->closing.store(false);
  pd->short_reads_unreliable.store(false);
  pd->rd = pd->wd = 0;
  pd->seq.fetch_add(1, std::memory_order_release);  // publishes the fields above to poll()
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET;
  ev.data.u64 = tag(pd);
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    const int err = errno;
    release(pd);
    throw std::system_error(err, std::generic_category(), "goro: registering a socket with epoll");
  }
  return pd;
}

void Poller::close(PollDesc* pd) {
  pd->closing.store(true, std::memory_order_seq_cst);
  {
    std::lock_guard lock(pd->lock);  // see set_deadline
    for (TimerEntry* t : {&pd->rtimer, &pd->wtimer}) {
      disarm(t);  // then bump seq, as set_deadline does
      t->seq.fetch_add(1);
    }
  }
  for (auto* gate : {&pd->rg, &pd->wg})
    if (Waiter* w = unblock(*gate, false)) w->wake();
  if (epfd_ >= 0) ::epoll_ctl(epfd_, EPOLL_CTL_DEL, pd->fd, nullptr);
}

void Poller::release(PollDesc* pd) {
  std::lock_guard lock(pool_mu_);
  pd->fd = -1;
  pd->next_free = free_;
  free_ = pd;
}

std::size_t Poller::open_sockets() {
  std::lock_guard lock(pool_mu_);
  std::size_t n = 0;
  for (PollDesc* pd : all_) n += pd->fd >= 0;
  return n;
}

PollResult Poller::check(PollDesc* pd, bool write) {
  if (pd->closing.load(std::memory_order_seq_cst)) return PollResult::closing;
  std::lock_guard lock(pd->lock);
  if ((write ? pd->wd : pd->rd) < 0) return PollResult::timeout;
  return PollResult::ready;
}

PollResult Poller::wait(PollDesc* pd, bool write) {
  std::atomic<std::uintptr_t>& gate = write ? pd->wg : pd->rg;
  if (PollResult r = check(pd, write); r != PollResult::ready) return r;
  for (;;) {
    std::uintptr_t v = kReady;
    if (gate.compare_exchange_strong(v, kNil, std::memory_order_acq_rel)) return PollResult::ready;
    v = kNil;
    if (gate.compare_exchange_strong(v, kWait, std::memory_order_acq_rel)) break;
    if (v != kReady && v != kNil) {
      std::fprintf(stderr, "goro: fatal error: two parties wait on one socket direction (fd %d)\n", pd->fd);
      std::abort();
    }
  }
  // Re-check after announcing kWait: close() and deadlines store first, then look at the gate.
  if (check(pd, write) == PollResult::ready) {
    Waiter me(current_g());
    Commit c{&gate, &me};
    std::atomic<int>& count = me.is_goroutine() ? waiters_ : thread_waiters_;
    count.fetch_add(1, std::memory_order_seq_cst);
    if (!me.is_goroutine()) plain_thread_waits();  // after the count: a worker must poll for us
    me.block_with(WaitReason::io_wait, &commit, &c);
    count.fetch_sub(1, std::memory_order_seq_cst);
  }
  if (gate.exchange(kNil, std::memory_order_acq_rel) == kReady) return PollResult::ready;
  const PollResult r = check(pd, write);
  return r == PollResult::ready ? PollResult::ready : r;  // woken without an event: try again
}

Waiter* Poller::unblock(std::atomic<std::uintptr_t>& gate, bool io_ready) {
  for (;;) {
    std::uintptr_t old = gate.load(std::memory_order_acquire);
    if (old == kReady) return nullptr;
    if (old == kNil && !io_ready) return nullptr;
    const std::uintptr_t next = io_ready ? kReady : kNil;
    if (gate.compare_exchange_weak(old, next, std::memory_order_acq_rel))
      return old > kWait ? reinterpret_cast<Waiter*>(old) : nullptr;
  }
}

void Poller::set_deadline(PollDesc* pd, std::int64_t when, bool read, bool write) {
  const std::int64_t now = os::now_ns();
  const std::int64_t value = when == 0 ? 0 : (when <= now ? -1 : when);
  bool expired_read = false, expired_write = false;
  for (bool is_read : {true, false}) {
    if (is_read ? !read : !write) continue;
    TimerEntry& t = is_read ? pd->rtimer : pd->wtimer;
    // All of it under the lock, as Go's pollSetDeadline: two goroutines setting deadlines on one
    // connection (a watchdog and the reader), or one setting while another closes it, would
    // otherwise both arm the same timer entry, or arm it after close() disarmed it for good.
    // (Timers fire without their heap's lock held, so this lock may be taken around the heap's.)
    std::lock_guard lock(pd->lock);
    (is_read ? pd->rd : pd->wd) = value;
    // Disarm first, then bump seq, as a Timer's stop does (time/timer.cpp): a fire popped before
    // the disarm recorded the old seq and is now stale, while bumping first would let a pop in
    // between record the new one and time out the deadline being set.
    disarm(&t);
    t.seq.fetch_add(1, std::memory_order_acq_rel);
    if (value > 0 && !pd->closing.load(std::memory_order_seq_cst)) {
      t.when = value;
      arm(&t);
    } else if (value < 0) {
      (is_read ? expired_read : expired_write) = true;
    }
  }
  if (expired_read || expired_write) deadline_passed(pd, expired_read, expired_write);
}

void Poller::timer_fired(PollDesc* pd, bool read, std::uint64_t seq) {
  {
    // seq is compared under the lock, as Go's netpolldeadlineimpl does: set_deadline and close()
    // bump it under the lock, and one that came between a comparison made before taking the lock
    // and the store below would have its new deadline overwritten by this stale fire.
    std::lock_guard lock(pd->lock);
    if (seq != (read ? pd->rtimer : pd->wtimer).seq.load(std::memory_order_relaxed)) return;
    (read ? pd->rd : pd->wd) = -1;
  }
  deadline_passed(pd, read, !read);
}

void Poller::deadline_passed(PollDesc* pd, bool read, bool write) {
  if (read)
    if (Waiter* w = unblock(pd->rg, false)) w->wake();
  if (write)
    if (Waiter* w = unblock(pd->wg, false)) w->wake();
}

int Poller::poll(std::int64_t timeout_ns) {
  epoll_event events[kMaxEvents];
  last_poll_.store(os::now_ns(), std::memory_order_relaxed);
  // epoll_pwait2 (ns timeouts) came with Linux 5.11; older kernels say ENOSYS, and container
  // seccomp profiles older than it EPERM (it has no EPERM of its own). Then epoll_wait, with the
  // timeout rounded up to whole ms: a timer may fire up to 1 ms late, never early.
  static std::atomic<bool> no_pwait2{false};
  int n = -1;
  bool plain_wait = timeout_ns < 0 || no_pwait2.load(std::memory_order_relaxed);
  if (!plain_wait) {
    timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000), static_cast<long>(timeout_ns % 1'000'000'000)};
    n = ::epoll_pwait2(epfd_, events, kMaxEvents, &ts, nullptr);
    plain_wait = n < 0 && (errno == ENOSYS || errno == EPERM);
    if (plain_wait) no_pwait2.store(true, std::memory_order_relaxed);
  }
  if (plain_wait) {
    const std::int64_t ms = timeout_ns < 0 ? -1 : std::min<std::int64_t>((timeout_ns + 999'999) / 1'000'000, INT_MAX);
    n = ::epoll_wait(epfd_, events, kMaxEvents, static_cast<int>(ms));
  }
  if (n < 0) {
    if (errno == EINTR) return 0;
    fatal_errno("epoll_wait");
  }
  G* readied[2 * kMaxEvents];
  int nready = 0;
  for (int i = 0; i < n; ++i) {
    const std::uint64_t data = events[i].data.u64;
    if (data == kInterruptTag) {
      // An interrupt is for the waiter blocked in epoll_wait (an earlier deadline, the runtime
      // stopping). A non-blocking poll — a worker's, or the monitor's, which runs beside the
      // waiter — must leave it: drained there, it left the waiter asleep past a timer that was
      // then never run (every P idle, a sleeper 15 s overdue). The eventfd is level-triggered,
      // so the waiter still sees it. (Go's netpoll has the same rule.)
      if (timeout_ns != 0) {
        std::uint64_t drained;
        [[maybe_unused]] ssize_t r = ::read(eventfd_, &drained, sizeof drained);
        interrupting_.store(false, std::memory_order_release);
      }
      continue;
    }
    auto* pd = reinterpret_cast<PollDesc*>(data & ((std::uint64_t{1} << 48) - 1));
    if ((data >> 48) != (pd->seq.load(std::memory_order_acquire) & 0xffff)) continue;  // since closed
    const std::uint32_t e = events[i].events;
    const bool readable = e & (EPOLLIN | EPOLLRDHUP | EPOLLPRI | EPOLLHUP | EPOLLERR);
    // Before the gate publishes the event. Not on a bare EPOLLHUP: a TCP socket reports that
    // from its registration until connect() starts (every dialled connection would lose the
    // rule), and every hang-up that can end a read reports EPOLLRDHUP with it.
    if (e & (EPOLLRDHUP | EPOLLPRI | EPOLLERR))
      pd->short_reads_unreliable.store(true, std::memory_order_relaxed);
    const bool writable = e & (EPOLLOUT | EPOLLHUP | EPOLLERR);
    for (auto [gate, fired] : {std::pair{&pd->rg, readable}, std::pair{&pd->wg, writable}}) {
      if (!fired) continue;
      Waiter* w = unblock(*gate, true);
      if (!w) continue;
      if (G* g = w->goroutine()) readied[nready++] = g;  // batched below
      else w->wake();                                   // a plain thread
    }
  }
  ready_batch(readied, nready);
  return nready;
}

void Poller::interrupt() {
  if (eventfd_ < 0 || interrupting_.exchange(true, std::memory_order_acq_rel)) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(eventfd_, &one, sizeof one);
}

}  // namespace goro::rt
