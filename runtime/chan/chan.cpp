// runtime/chan/chan.cpp — send, receive, close. See chan.hpp for the invariants.
#include "chan/chan.hpp"
#include "chan/memory.hpp"

#include <goro/chan.hpp>

#include "sched/sched.hpp"
#include "sched/settle.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

namespace goro::rt {
namespace {

// Unlinks a parked goroutine's waiter when the runtime abandons it (G::on_abandon).
struct SingleWait {
  Chan* chan;
  ChanWaiter waiter;
  bool is_send;
};

void abandon_single(void* arg) {
  auto* w = static_cast<SingleWait*>(arg);
  // Readied but not yet run (the waker dequeued it), or the channel's last handle is gone
  // (chan_destroy unlinked it): the channel may be gone by now. Nobody dequeues meanwhile:
  // plain threads wait behind their WakeFence (sched/settle.hpp).
  if (!w->waiter.linked.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(w->chan->lock);
  (w->is_send ? w->chan->sendq : w->chan->recvq).remove(&w->waiter);
}

// Enqueues the caller on c's send or receive queue and blocks until a partner (or close)
// completes the operation. c->lock is held on entry and released while asleep.
bool wait_on(Chan* c, void* elem, bool is_send, RuntimeSection& section) {
  Waiter me(goroutine_of(section.m()));  // asked only now: most operations never wait
  SingleWait wait{c, {}, is_send};
  wait.waiter.party = &me;
  wait.waiter.elem = elem;
  (is_send ? c->sendq : c->recvq).push(&wait.waiter);
  if (G* g = me.goroutine()) {
    g->on_abandon = &abandon_single;
    g->abandon_arg = &wait;
  }
  me.block_with(section, is_send ? WaitReason::chan_send : WaitReason::chan_receive, [](G*, void* lock) {
    static_cast<os::SpinLock*>(lock)->unlock();
    return true;
  }, &c->lock);
  if (G* g = me.goroutine()) g->on_abandon = nullptr;
  return wait.waiter.success;
}

}  // namespace

void throw_send_on_closed() { throw closed_channel("goro: send on closed channel"); }

namespace {

// The locked part of a send. `fence`: a plain thread's (sched/settle.hpp), held from taking a
// receiver until it is woken, and released before the thread blocks. Goroutines pass null: the
// hot path carries nothing for plain threads.
bool send_slow(Chan* c, void* value, bool block, RuntimeSection& section, M* m, WakeFence* fence) {
  c->lock.lock();
  ChanWaiter* wake = nullptr;
  switch (send_locked(c, value, &wake)) {
    case SendStep::sent:
      c->lock.unlock();
      if (wake) wake->party->wake(m);
      return true;
    case SendStep::closed:
      c->lock.unlock();
      throw_send_on_closed();
    case SendStep::would_block:
      break;
  }
  if (!block) {
    c->lock.unlock();
    return false;
  }
  if (fence) fence->release();
  if (!wait_on(c, value, true, section)) throw_send_on_closed();  // closed while we waited
  return true;
}

[[gnu::noinline]] bool send_from_thread(Chan* c, void* value, bool block, RuntimeSection& section) {
  note_plain_thread();
  WakeFence fence(nullptr);
  return send_slow(c, value, block, section, nullptr, &fence);
}

// The locked part of a receive; as send_slow.
detail::Recv recv_slow(Chan* c, void* out, bool block, RuntimeSection& section, M* m, WakeFence* fence) {
  c->lock.lock();
  ChanWaiter* wake = nullptr;
  const detail::Recv r = recv_locked(c, out, &wake);
  if (r != detail::Recv::nothing || !block) {
    c->lock.unlock();
    if (wake) wake->party->wake(m);
    return r == detail::Recv::closed && !block ? detail::Recv::nothing : r;
  }
  if (fence) fence->release();
  return wait_on(c, out, false, section) ? detail::Recv::value : detail::Recv::closed;
}

[[gnu::noinline]] detail::Recv recv_from_thread(Chan* c, void* out, bool block, RuntimeSection& section) {
  note_plain_thread();
  WakeFence fence(nullptr);
  return recv_slow(c, out, block, section, nullptr, &fence);
}

}  // namespace

SendStep send_locked(Chan* c, void* value, ChanWaiter** wake) {
  if (c->closed.load(std::memory_order_relaxed)) return SendStep::closed;
  if (ChanWaiter* r = c->recvq.dequeue()) {  // a receiver is waiting: hand it over directly
    c->move_value(r->elem, value);
    r->success = true;
    *wake = r;
    return SendStep::sent;
  }
  const std::size_t n = c->count.load(std::memory_order_relaxed);
  if (n < c->cap) {
    c->move_value(c->slot(c->sendx), value);
    if (++c->sendx == c->cap) c->sendx = 0;
    c->count.store(n + 1, std::memory_order_relaxed);
    return SendStep::sent;
  }
  return SendStep::would_block;
}

detail::Recv recv_locked(Chan* c, void* out, ChanWaiter** wake) {
  if (ChanWaiter* s = c->sendq.dequeue()) {
    if (c->cap == 0) {
      c->move_value(out, s->elem);  // unbuffered: straight from the sender
    } else {
      // The buffer is full (a sender waits): take its head, append the sender's value.
      c->take_slot(c->recvx, out);
      c->move_value(c->slot(c->recvx), s->elem);
      if (++c->recvx == c->cap) c->recvx = 0;
      c->sendx = c->recvx;
    }
    s->success = true;
    *wake = s;
    return detail::Recv::value;
  }
  const std::size_t n = c->count.load(std::memory_order_relaxed);
  if (n > 0) {
    c->take_slot(c->recvx, out);
    if (++c->recvx == c->cap) c->recvx = 0;
    c->count.store(n - 1, std::memory_order_relaxed);
    return detail::Recv::value;
  }
  if (c->closed.load(std::memory_order_relaxed)) return detail::Recv::closed;
  return detail::Recv::nothing;
}

}  // namespace goro::rt

namespace goro::detail {

using namespace rt;

namespace {

// A channel's memory: the header, then its buffer of `capacity` elements (chan_memory_get
// decides where it lives).
struct ChanLayout {
  std::size_t header, bytes, align;
  ChanLayout(const ElemOps* ops, std::size_t capacity)
      : header(header_bytes(ops)),
        bytes(header + (ops->size ? capacity * ops->size : 0)),
        align(std::max(ops->align, alignof(Chan))) {}

  static std::size_t header_bytes(const ElemOps* ops) {
    return (sizeof(Chan) + ops->align - 1) / ops->align * ops->align;
  }
  // Whether `bytes` is a size an object may have at all (Go's makechan: "size out of range"):
  // at most PTRDIFF_MAX, GCC's limit, beyond which malloc fails anyway. The count cannot wrap.
  static bool fits(const ElemOps* ops, std::size_t capacity) {
    constexpr auto kMaxBytes = static_cast<std::size_t>(PTRDIFF_MAX);
    return !ops->size || capacity <= (kMaxBytes - header_bytes(ops)) / ops->size;
  }
};

}  // namespace

ChanCore* chan_make(const ElemOps* ops, std::size_t capacity) {
  if (!ChanLayout::fits(ops, capacity))
    throw std::length_error("goro: chan capacity " + std::to_string(capacity) + " of " +
                            std::to_string(ops->size) + "-byte elements is out of range");
  const ChanLayout layout(ops, capacity);
  void* mem = chan_memory_get(layout.bytes, layout.align);
  auto* buf = ops->size && capacity ? static_cast<unsigned char*>(mem) + layout.header : nullptr;
  return reinterpret_cast<ChanCore*>(::new (mem) Chan(ops, capacity, buf));
}

void chan_destroy(ChanCore* core) noexcept {
  Chan* c = from_core(core);
  // Still queued: single sends and receives parked through a reference to a handle now gone
  // (`go([&] { ch.send(v); })` left blocked, Go's "first answer wins"; a select holds its own
  // references). Nothing can wake them now. Unlinked, they are settled at teardown without
  // touching this memory (abandon_single). The fence: teardown may be settling meanwhile.
  if (!c->sendq.empty() || !c->recvq.empty()) {
    WakeFence fence;
    std::lock_guard lock(c->lock);
    while (c->sendq.dequeue()) {
    }
    while (c->recvq.dequeue()) {
    }
  }
  if (c->timer) timer_channel_gone(c->timer);  // before the memory goes: a fire may be sending
  for (std::size_t i = 0, n = c->count.load(); i < n; ++i) c->destroy_value(c->slot((c->recvx + i) % c->cap));
  const ChanLayout layout(c->ops, c->cap);
  c->~Chan();
  chan_memory_put(c, layout.bytes, layout.align);
}

bool chan_send(ChanCore* core, void* value, bool block) {
  if (!core) {
    if (!block) {
      note_plain_thread();  // as for any failed try: it may act on the result later
      return false;
    }
    block_forever(WaitReason::chan_send_nil);
  }
  Chan* c = from_core(core);
  // Go's fast path: a non-blocking send on an open channel with no room fails without the lock.
  if (!block && !c->closed.load(std::memory_order_acquire) &&
      (c->cap == 0 ? c->recvq.empty() : c->count.load(std::memory_order_relaxed) == c->cap)) {
    note_plain_thread();  // a possible waker from now on
    return false;
  }

  RuntimeSection section;  // one for the whole operation: waking and parking use our P
  M* m = section.m();
  if (!m) [[unlikely]] return send_from_thread(c, value, block, section);
  return send_slow(c, value, block, section, m, nullptr);
}

Recv chan_recv(ChanCore* core, void* out, bool block) {
  if (!core) {
    if (!block) {
      note_plain_thread();
      return Recv::nothing;
    }
    block_forever(WaitReason::chan_receive_nil);
  }
  Chan* c = from_core(core);
  if (c->timer) [[unlikely]] timer_run_if_due(c->timer);
  // Go's fast path: empty and open means "nothing" without the lock. (Empty and closed is
  // "nothing" too for try_recv, but must be told from a racing last send: take the lock.)
  // Acquire on the first read keeps the read of closed after it (Go's atomics are seq_cst).
  if (!block &&
      (c->cap == 0 ? c->sendq.empty(std::memory_order_acquire) : c->count.load(std::memory_order_acquire) == 0) &&
      !c->closed.load(std::memory_order_acquire)) {
    note_plain_thread();
    return Recv::nothing;
  }

  RuntimeSection section;
  M* m = section.m();
  if (!m) [[unlikely]] return recv_from_thread(c, out, block, section);
  return recv_slow(c, out, block, section, m, nullptr);
}

void chan_close(ChanCore* core) {
  if (!core) throw std::logic_error("goro: close of nil channel");
  Chan* c = from_core(core);
  if (!current_g()) note_plain_thread();
  WakeFence fence;  // a plain thread, from taking the waiters until they are woken
  ChanWaiter* woken = nullptr;  // collected under the lock, woken after it, in queue order
  ChanWaiter** tail = &woken;
  {
    std::lock_guard lock(c->lock);
    if (c->closed.load(std::memory_order_relaxed)) throw closed_channel("goro: close of closed channel");
    c->closed.store(true, std::memory_order_release);
    for (WaitQueue* q : {&c->recvq, &c->sendq}) {
      while (ChanWaiter* w = q->dequeue()) {
        w->success = false;  // receivers: closed; senders: throw closed_channel
        w->next = nullptr;
        *tail = w;
        tail = &w->next;
      }
    }
  }
  RuntimeSection section;
  while (woken) {
    ChanWaiter* w = woken;
    woken = w->next;  // read before waking: w may vanish once its owner runs
    w->party->wake(section.m());
  }
}

std::size_t chan_size(const ChanCore* core) noexcept {
  return core && !from_core(core)->timer ? from_core(core)->count.load(std::memory_order_relaxed) : 0;
}

std::size_t chan_capacity(const ChanCore* core) noexcept {
  return core && !from_core(core)->timer ? from_core(core)->cap : 0;
}

}  // namespace goro::detail
