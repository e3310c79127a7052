// runtime/chan/select.cpp — Go's selectgo.
//
//   1. Order: poll the cases in a uniformly random order (fairness); lock their channels in
//      address order, each distinct channel once (no lock-order deadlock between selects).
//   2. Pass 1, all channels locked: take the first case in poll order that can complete now —
//      the same steps as a plain send or receive (chan.cpp). Before it, a fast pass does the
//      same one channel at a time, locking only channels that look ready (their state read
//      without the lock): one lock instead of one per case when a case is ready. With a default
//      and a single channel case, the fast pass alone may decide "not ready", as Go's
//      non-blocking channel operations do without the lock. With several it may not: it sees
//      each case at a different moment, and "none was ready" needs one moment for all of them
//      (a case seen not ready may have become ready before the last is seen). Pass 1 decides.
//   3. Pass 2: take a reference to each channel (Locks::retain), enqueue one waiter per case, all
//      sharing one SelectGroup, and park; the channels are unlocked once we are off our stack
//      (park.hpp).
//   4. Whoever fires first — a partner on any of the channels, or close() — claims the group
//      with a single CAS as it dequeues our waiter (WaitQueue::dequeue), does the transfer and
//      wakes us. A partner that loses the CAS skips that waiter.
//   5. Pass 3: lock everything again, unlink our remaining waiters, drop the references.
// The chosen case's handler runs in the caller (goro/select.hpp) after all of this.
#include "chan/chan.hpp"

#include <goro/chan.hpp>
#include <goro/select.hpp>

#include "sched/sched.hpp"
#include "sched/settle.hpp"

#include <new>

namespace goro::rt {
namespace {

// n default-initialized Ts (indices: uninitialized), on the stack for the usual handful of cases.
template <class T, std::size_t kInline = 8>
class SmallArray {
 public:
  explicit SmallArray(std::size_t n) : n_(n) {
    data_ = n <= kInline ? reinterpret_cast<T*>(inline_) : static_cast<T*>(::operator new(n * sizeof(T)));
    for (std::size_t i = 0; i < n; ++i) ::new (&data_[i]) T;
  }
  ~SmallArray() {
    for (std::size_t i = 0; i < n_; ++i) data_[i].~T();
    if (n_ > kInline) ::operator delete(data_);
  }
  SmallArray(const SmallArray&) = delete;
  SmallArray& operator=(const SmallArray&) = delete;
  T& operator[](std::size_t i) { return data_[i]; }

 private:
  alignas(T) unsigned char inline_[kInline * sizeof(T)];
  std::size_t n_;
  T* data_;
};

// The indices of a Fisher-Yates shuffle, several drawn from one random word (Brackett-Rozinsky
// and Lemire's batched ranged integers, without their rejection step): the word times the bound
// has the index in its high half and the next word in its low half. A new word is drawn before
// the product of the bounds passes 2^32, so each index is off uniform by at most 2^-32. A select
// of up to 12 cases costs one xorshift instead of one per case (4 cases: 62 instructions of ~230).
class ShuffleIndices {
 public:
  explicit ShuffleIndices(FastRand& rng) : rng_(rng) {}
  std::size_t below(std::uint64_t n) {  // n: at most the number of cases, far below 2^32
    if (product_ * n > kFresh) {
      word_ = rng_.next64();
      product_ = 1;
    }
    product_ *= n;
    const unsigned __int128 x = static_cast<unsigned __int128>(word_) * n;
    word_ = static_cast<std::uint64_t>(x);
    return static_cast<std::size_t>(x >> 64);
  }

 private:
  static constexpr std::uint64_t kFresh = std::uint64_t{1} << 32;
  FastRand& rng_;
  std::uint64_t word_ = 0, product_ = kFresh;  // the first index above 0 draws a word
};

FastRand& rng_for(M* m) {  // m: inside its RuntimeSection
  if (m && m->p) return m->p->rng;
  thread_local FastRand rng(reinterpret_cast<std::uintptr_t>(&rng));  // a plain thread never moves
  return rng;
}

// A receive case on a timer's channel that looks empty: delivers the timer's passed deadline if
// no scheduler has yet (time/timer.cpp), then looks again. Out of line, and reached by a tail
// call: looks_ready itself stays a leaf without a frame.
[[gnu::noinline, gnu::cold]] bool timer_ready(const Chan* ch) {
  detail::timer_run_if_due(ch->timer);
  return ch->count.load(std::memory_order_acquire) > 0;
}

// Whether a case could complete now, judged without its channel's lock (reads of state the lock
// guards: a stale answer is one from a moment earlier). A closed channel is ready: a receive
// fires, a send throws. The two reads come in the order of chan_send's and chan_recv's fast
// paths, so that "not ready" held at one moment between them: a send reads closed first, a
// receive reads it last (closed, then drained, between the reads would otherwise look like an
// open, empty channel).
bool looks_ready(const detail::SelectCase& c) {
  const Chan* ch = from_core(c.chan);
  if (c.is_send) {
    if (ch->closed.load(std::memory_order_acquire)) return true;
    return ch->cap == 0 ? !ch->recvq.empty() : ch->count.load(std::memory_order_relaxed) < ch->cap;
  }
  // Acquire: the read of closed stays after this one.
  if (ch->cap == 0 ? !ch->sendq.empty(std::memory_order_acquire) : ch->count.load(std::memory_order_acquire) > 0)
    return true;
  if (ch->closed.load(std::memory_order_relaxed)) return true;
  // A timer's channel: its deadline may have passed with no scheduler yet to deliver it, which
  // a receive does itself, as in Go 1.23 (time/timer.cpp). Every case gets here before pass 1.
  return ch->timer && timer_ready(ch);
}

// Tries case k under its own channel's lock. True if it completed (or threw closed_channel).
bool try_case(const detail::SelectCase& c, std::size_t k, M* m, detail::SelectOutcome& out) {
  Chan* ch = from_core(c.chan);
  ChanWaiter* wake = nullptr;
  ch->lock.lock();
  if (c.is_send) {
    const SendStep step = send_locked(ch, c.elem, &wake);
    ch->lock.unlock();
    if (step == SendStep::would_block) return false;
    if (step == SendStep::closed) throw_send_on_closed();
    out = {k, detail::Recv::nothing};
  } else {
    const detail::Recv r = recv_locked(ch, c.elem, &wake);
    ch->lock.unlock();
    if (r == detail::Recv::nothing) return false;
    out = {k, r};
  }
  if (wake) wake->party->wake(m);
  return true;
}

struct Locks {
  detail::SelectCase* cases;
  std::size_t* order;  // case indices sorted by channel address; nil cases excluded
  std::size_t count;

  Chan* chan(std::size_t i) const { return from_core(cases[order[i]].chan); }
  bool repeat(std::size_t i) const { return i > 0 && chan(i) == chan(i - 1); }
  void lock() const {
    for (std::size_t i = 0; i < count; ++i)
      if (!repeat(i)) chan(i)->lock.lock();
  }
  void unlock() const {
    for (std::size_t i = count; i-- > 0;)
      if (!repeat(i)) chan(i)->lock.unlock();
  }
  // A parked select holds a reference to each of its channels, as Go's select does through the
  // garbage collector: the partner that completes a case may drop its last handle at once, and
  // pass 3 (or settling an abandoned select) still locks every channel.
  void retain() const {
    for (std::size_t i = 0; i < count; ++i)
      if (!repeat(i)) detail::chan_retain(cases[order[i]].chan);
  }
  void release() const {
    for (std::size_t i = 0; i < count; ++i)
      if (!repeat(i)) detail::chan_release(cases[order[i]].chan);
  }
};

struct Parked {
  Locks locks;
  ChanWaiter* waiters;  // one per case, indexed like the cases

  // The i-th case in lock order: its channel's queue for this select's waiter.
  WaitQueue& queue(std::size_t i) const {
    Chan* c = locks.chan(i);
    return locks.cases[locks.order[i]].is_send ? c->sendq : c->recvq;
  }
  ChanWaiter& waiter(std::size_t i) const { return waiters[locks.order[i]]; }

  void unlink_all() const {
    for (std::size_t i = 0; i < locks.count; ++i) queue(i).remove(&waiter(i));
  }
};

}  // namespace
}  // namespace goro::rt

namespace goro::detail {

using namespace rt;

namespace {

// A select, after the caller's RuntimeSection is set up. `fence`: a plain thread's
// (sched/settle.hpp), held from taking a partner until it is woken, released before the thread
// blocks. Goroutines pass null: the hot path carries nothing for plain threads.
SelectOutcome select_cases(SelectCase* cases, std::size_t n, bool has_default,
                           RuntimeSection& section, WakeFence* fence) {
  M* m = section.m();

  SmallArray<std::size_t> poll(n), order(n);
  std::size_t live = 0;
  ShuffleIndices shuffle(rng_for(m));
  for (std::size_t i = 0; i < n; ++i) {
    if (!cases[i].chan) continue;  // a nil channel never proceeds
    const std::size_t j = shuffle.below(live + 1);  // Fisher-Yates, "inside-out"
    if (j != live) poll[live] = poll[j];
    poll[j] = i;
    order[live++] = i;
  }
  if (live == 0) {
    if (has_default) return {n, Recv::nothing};
    if (fence) fence->release();
    // Go's reasons: "select (no cases)" is for select {}; a select whose cases are all on nil
    // channels parks as any select does.
    block_forever(n == 0 ? WaitReason::select_no_cases : WaitReason::select);
  }

  // Fast pass: in poll order, try each case that looks ready, locking only its channel. Most
  // selects that find a ready case end here having taken one lock instead of one per case.
  SelectOutcome out;
  for (std::size_t p = 0; p < live; ++p) {
    const std::size_t k = poll[p];
    if (looks_ready(cases[k]) && try_case(cases[k], k, m, out)) return out;
  }
  if (has_default && live == 1) return {n, Recv::nothing};  // not ready when looked at

  for (std::size_t i = 1; i < live; ++i)  // insertion sort by address: selects are small
    for (std::size_t j = i; j > 0 && cases[order[j]].chan < cases[order[j - 1]].chan; --j)
      std::swap(order[j], order[j - 1]);
  const Locks locks{cases, &order[0], live};
  // Pass 2's waiters, allocated before anything is locked: bad_alloc must leave nothing held.
  // A select with a default never gets to pass 2, and needs none.
  SmallArray<ChanWaiter> waiters(has_default ? 0 : n);

  // Pass 1, with every channel locked: nothing can become ready behind our back from here on.
  locks.lock();
  for (std::size_t p = 0; p < live; ++p) {
    const std::size_t k = poll[p];
    Chan* c = from_core(cases[k].chan);
    ChanWaiter* wake = nullptr;
    if (cases[k].is_send) {
      const SendStep step = send_locked(c, cases[k].elem, &wake);
      if (step == SendStep::would_block) continue;
      locks.unlock();
      if (step == SendStep::closed) throw_send_on_closed();
      if (wake) wake->party->wake(m);
      return {k, Recv::nothing};
    }
    const Recv r = recv_locked(c, cases[k].elem, &wake);
    if (r == Recv::nothing) continue;
    locks.unlock();
    if (wake) wake->party->wake(m);
    return {k, r};
  }
  if (has_default) {  // no case was ready at this moment
    locks.unlock();
    return {n, Recv::nothing};
  }
  // Pass 2.
  locks.retain();
  Waiter me(goroutine_of(m));  // asked only now: most selects never wait
  SelectGroup group;
  for (std::size_t i = 0; i < live; ++i) {
    const std::size_t k = order[i];
    ChanWaiter& w = waiters[k];
    w.party = &me;
    w.elem = cases[k].elem;
    w.select = &group;
    w.case_index = static_cast<std::uint32_t>(k);
    (cases[k].is_send ? locks.chan(i)->sendq : locks.chan(i)->recvq).push(&w);
  }
  Parked parked{locks, &waiters[0]};
  if (fence) fence->release();
  if (G* g = me.goroutine()) {
    g->on_abandon = [](void* arg) {
      // Only the channels it is still queued on (a case that was taken, if the select was
      // readied but has not run, unlinked its waiter). Nobody dequeues meanwhile: plain threads
      // wait behind their WakeFence (sched/settle.hpp).
      auto* p = static_cast<Parked*>(arg);
      for (std::size_t i = 0; i < p->locks.count; ++i) {
        if (!p->waiter(i).linked.load(std::memory_order_relaxed)) continue;
        std::lock_guard lock(p->locks.chan(i)->lock);
        p->queue(i).remove(&p->waiter(i));
      }
      p->locks.release();
    };
    g->abandon_arg = &parked;
  }
  me.block_with(section, WaitReason::select, [](G*, void* arg) {
    static_cast<const Locks*>(arg)->unlock();
    return true;
  }, const_cast<Locks*>(&locks));
  if (G* g = me.goroutine()) g->on_abandon = nullptr;

  // Pass 3.
  locks.lock();
  parked.unlink_all();
  locks.unlock();
  locks.release();
  ChanWaiter* winner = group.winner;
  const std::size_t k = winner->case_index;
  if (cases[k].is_send) {
    if (!winner->success) throw_send_on_closed();
    return {k, Recv::nothing};
  }
  return {k, winner->success ? Recv::value : Recv::closed};
}

}  // namespace

SelectOutcome select_impl(SelectCase* cases, std::size_t n, bool has_default) {
  RuntimeSection section;  // one for the whole select: random numbers, waking, parking use our P
  if (section.m()) [[likely]]
    return select_cases(cases, n, has_default, section, nullptr);
  note_plain_thread();
  WakeFence fence(nullptr);
  return select_cases(cases, n, has_default, section, &fence);
}

}  // namespace goro::detail
