// runtime/chan/chan.hpp — a channel: Go's hchan, and the waiter records of its queues.
//
// Invariants (Go's, chan.go), all under `lock`:
//   * At least one of sendq and recvq is empty — except for an unbuffered channel with a single
//     goroutine selecting on both ends of it, whose two waiters can never meet each other.
//   * For a buffered channel: count > 0 implies recvq is empty; count < cap implies sendq is
//     empty. A waiter exists only when the buffer cannot serve it.
//   * A closed channel has no senders waiting; its receivers get the buffered values, then
//     "closed".
//
// A value never takes a detour: a sender that finds a receiver waiting moves the value straight
// into the receiver's slot (ChanWaiter::elem points into the receiver's stack) and readies it;
// a receiver that finds a sender waiting takes its value (from the buffer's head, refilling the
// buffer from the sender, so FIFO holds). Readying happens after the lock is released.
//
// `count`, `closed` and the queue heads are atomics so that the failing case of try_send /
// try_recv can be decided without the lock, as Go's fast path does.
#pragma once

#include <goro/detail/chan_core.hpp>

#include "os/spinlock.hpp"
#include "sched/wait.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace goro::detail {
struct ChanCore;
struct TimerState;
// The last handle of a timer's channel is gone: stop the timer and drop the channel's reference
// to it (time/timer.cpp).
void timer_channel_gone(TimerState* s) noexcept;
// A receive (or a select's receive case) on a timer's channel is about to look at it: deliver an
// expired deadline now if no scheduler has yet (time/timer.cpp).
void timer_run_if_due(TimerState* s) noexcept;
}

namespace goro::rt {

// Shared by the waiters of one select: the first channel to fire claims it with one CAS.
struct SelectGroup {
  std::atomic<std::uint32_t> done{0};
  struct ChanWaiter* winner = nullptr;
};

// One party waiting on one channel (Go's sudog).
struct ChanWaiter {
  Waiter* party = nullptr;
  void* elem = nullptr;            // send: the value to take; recv: storage to fill
  SelectGroup* select = nullptr;   // null unless part of a select
  std::uint32_t case_index = 0;
  bool success = false;            // set by the waker: a value moved (true), or closed (false)
  // Atomic only for teardown, which reads it without the channel's lock (chan.cpp, select.cpp):
  // a plain thread may be using the channel meanwhile. Written under the lock.
  std::atomic<bool> linked{false};
  ChanWaiter* prev = nullptr;
  ChanWaiter* next = nullptr;
};

class WaitQueue {
 public:
  bool empty(std::memory_order order = std::memory_order_relaxed) const {  // lock-free peek
    return head_.load(order) == nullptr;
  }

  void push(ChanWaiter* w) {
    w->next = nullptr;
    w->prev = tail_;
    if (tail_) tail_->next = w;
    else head_.store(w, std::memory_order_relaxed);
    tail_ = w;
    w->linked.store(true, std::memory_order_relaxed);
  }

  void remove(ChanWaiter* w) {
    if (!w->linked.load(std::memory_order_relaxed)) return;
    if (w->prev) w->prev->next = w->next;
    else head_.store(w->next, std::memory_order_relaxed);
    if (w->next) w->next->prev = w->prev;
    else tail_ = w->prev;
    w->linked.store(false, std::memory_order_relaxed);
  }

  // The first waiter that can still be served. A select's waiter counts only if this call wins
  // its select (the others of that select are then dropped by the select itself).
  ChanWaiter* dequeue() {
    while (ChanWaiter* w = head_.load(std::memory_order_relaxed)) {
      remove(w);
      if (w->select) {
        std::uint32_t open = 0;
        if (!w->select->done.compare_exchange_strong(open, 1, std::memory_order_acq_rel)) continue;
        w->select->winner = w;
      }
      return w;
    }
    return nullptr;
  }

 private:
  std::atomic<ChanWaiter*> head_{nullptr};
  ChanWaiter* tail_ = nullptr;
};

struct Chan : detail::ChanHeader {
  Chan(const detail::ElemOps* o, std::size_t capacity, unsigned char* b)
      : ops(o), cap(capacity), buf(b), mover(pick_mover(o)) {}

  os::SpinLock lock;
  std::atomic<bool> closed{false};  // beside the lock: fills what would be padding
  const detail::ElemOps* const ops;
  const std::size_t cap;
  std::atomic<std::size_t> count{0};
  // A Timer's or Ticker's channel belongs to its timer (time/timer.cpp): it holds a reference to
  // the timer, and when its last handle goes the timer stops and goes too (Go 1.23 collects
  // unreferenced timers). It has a buffer of one, but Go 1.23's timer channels are synchronous,
  // so size() and capacity() say 0 (as Go's len and cap do).
  detail::TimerState* timer = nullptr;
  std::size_t sendx = 0, recvx = 0;
  WaitQueue recvq, sendq;
  unsigned char* const buf;  // cap elements, right after this header; null if nothing is stored
  // How one element moves: a fixed-size copy for the common trivially copyable sizes, T's move
  // constructor otherwise; null: memcpy of ops->size bytes (or nothing, for empty types).
  using Mover = void (*)(void* dst, void* src) noexcept;
  const Mover mover;

  void* slot(std::size_t i) const { return buf ? buf + i * ops->size : nullptr; }

  void move_value(void* dst, void* src) const {
    if (!dst || !src) return;
    if (mover) mover(dst, src);
    else if (ops->size) std::memcpy(dst, src, ops->size);
  }

  template <std::size_t N>
  static void copy(void* dst, void* src) noexcept { std::memcpy(dst, src, N); }
  static Mover pick_mover(const detail::ElemOps* ops) {
    if (!ops->trivial) return ops->size ? ops->move_construct : nullptr;
    switch (ops->size) {
      case 1: return &copy<1>;
      case 2: return &copy<2>;
      case 4: return &copy<4>;
      case 8: return &copy<8>;
      case 16: return &copy<16>;
    }
    return nullptr;
  }
  void destroy_value(void* p) const {
    if (p && !ops->trivial && ops->size) ops->destroy(p);
  }
  // Moves out of a buffer slot (which is left empty).
  void take_slot(std::size_t i, void* out) const {
    move_value(out, slot(i));
    destroy_value(slot(i));
  }
};

inline Chan* from_core(detail::ChanCore* c) { return reinterpret_cast<Chan*>(c); }
inline const Chan* from_core(const detail::ChanCore* c) { return reinterpret_cast<const Chan*>(c); }
inline void set_timer_of_channel(detail::ChanCore* c, detail::TimerState* t) { from_core(c)->timer = t; }

// The part of a send or receive that completes without waiting, shared with select. Called with
// c->lock held, which they leave held; `*wake` is set to a partner to wake() once the lock is
// released, or left null.
enum class SendStep { sent, would_block, closed };
SendStep send_locked(Chan* c, void* value, ChanWaiter** wake);
detail::Recv recv_locked(Chan* c, void* out, ChanWaiter** wake);  // Recv::nothing: would block

[[noreturn]] void throw_send_on_closed();

}  // namespace goro::rt
