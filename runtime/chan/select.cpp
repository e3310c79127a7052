// runtime/chan/select.cpp — Go's selectgo.
//
//   1. Order: poll the cases in a uniformly random order (fairness); lock their channels in
//      address order, each distinct channel once (no lock-order deadlock between selects).
//   2. Pass 1, all channels locked: take the first case in poll order that can complete now —
//      the same steps as a plain send or receive (chan.cpp). If none can and there is a
//      default, take the default.
//   3. Pass 2: enqueue one waiter per case, all sharing one SelectGroup, and park; the channels
//      are unlocked once we are off our stack (park.hpp).
//   4. Whoever fires first — a partner on any of the channels, or close() — claims the group
//      with a single CAS as it dequeues our waiter (WaitQueue::dequeue), does the transfer and
//      wakes us. A partner that loses the CAS skips that waiter.
//   5. Pass 3: lock everything again and unlink our remaining waiters.
// The chosen case's handler runs in the caller (goro/select.hpp) after all of this.
#include "chan/chan.hpp"

#include <goro/chan.hpp>
#include <goro/select.hpp>

#include "sched/sched.hpp"

#include <new>

namespace goro::rt {
namespace {

// n value-initialized Ts, on the stack for the usual handful of cases.
template <class T, std::size_t kInline = 8>
class SmallArray {
 public:
  explicit SmallArray(std::size_t n) : n_(n) {
    data_ = n <= kInline ? reinterpret_cast<T*>(inline_) : static_cast<T*>(::operator new(n * sizeof(T)));
    for (std::size_t i = 0; i < n; ++i) ::new (&data_[i]) T();
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

std::uint32_t random_below(std::uint32_t n) {
  RuntimeSection section;
  if (M* m = section.m(); m && m->p) return m->p->rng.below(n);
  thread_local FastRand rng(reinterpret_cast<std::uintptr_t>(&rng));  // a plain thread never moves
  return rng.below(n);
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
};

struct Parked {
  Locks locks;
  ChanWaiter* waiters;  // one per case, indexed like the cases

  void unlink_all() const {
    for (std::size_t i = 0; i < locks.count; ++i) {
      const std::size_t k = locks.order[i];
      ChanWaiter& w = waiters[k];
      (locks.cases[k].is_send ? locks.chan(i)->sendq : locks.chan(i)->recvq).remove(&w);
    }
  }
};

}  // namespace
}  // namespace goro::rt

namespace goro::detail {

using namespace rt;

SelectOutcome select_impl(SelectCase* cases, std::size_t n, bool has_default) {
  G* self = current_g();
  if (!self) note_plain_thread();

  SmallArray<std::size_t> poll(n), order(n);
  std::size_t live = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!cases[i].chan) continue;  // a nil channel never proceeds
    const std::size_t j = random_below(static_cast<std::uint32_t>(live + 1));  // Fisher-Yates
    poll[live] = poll[j];
    poll[j] = i;
    order[live++] = i;
  }
  if (live == 0) {
    if (has_default) return {n, Recv::nothing};
    block_forever(WaitReason::select_no_cases);
  }
  for (std::size_t i = 1; i < live; ++i)  // insertion sort by address: selects are small
    for (std::size_t j = i; j > 0 && cases[order[j]].chan < cases[order[j - 1]].chan; --j)
      std::swap(order[j], order[j - 1]);
  const Locks locks{cases, &order[0], live};

  // Pass 1.
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
      if (wake) wake->party->wake();
      return {k, Recv::nothing};
    }
    const Recv r = recv_locked(c, cases[k].elem, &wake);
    if (r == Recv::nothing) continue;
    locks.unlock();
    if (wake) wake->party->wake();
    return {k, r};
  }
  if (has_default) {
    locks.unlock();
    return {n, Recv::nothing};
  }

  // Pass 2.
  Waiter me(self);
  SelectGroup group;
  SmallArray<ChanWaiter> waiters(n);
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
  if (G* g = me.goroutine()) {
    g->on_abandon = [](void* arg) {
      auto* p = static_cast<Parked*>(arg);
      p->locks.lock();
      p->unlink_all();
      p->locks.unlock();
    };
    g->abandon_arg = &parked;
  }
  me.block_with(WaitReason::select, [](G*, void* arg) {
    static_cast<const Locks*>(arg)->unlock();
    return true;
  }, const_cast<Locks*>(&locks));
  if (G* g = me.goroutine()) g->on_abandon = nullptr;

  // Pass 3.
  locks.lock();
  parked.unlink_all();
  locks.unlock();
  ChanWaiter* winner = group.winner;
  const std::size_t k = winner->case_index;
  if (cases[k].is_send) {
    if (!winner->success) throw_send_on_closed();
    return {k, Recv::nothing};
  }
  return {k, winner->success ? Recv::value : Recv::closed};
}

}  // namespace goro::detail
