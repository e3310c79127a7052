// runtime/time/timer.cpp — goro::Timer, Ticker, after, after_func.
//
// A TimerState is shared by the handles, by its channel and, while armed, by the heap (one
// reference each). The timer holds no reference to its channel, only its address: the channel
// lives as long as a handle of it or of the Timer does, and when the last goes, the channel's
// end stops the timer and drops its reference (timer_channel_gone). So a timer nobody can reach
// any more — an after() in a select loop, a Ticker dropped without stop() — is stopped and freed
// at once, as Go 1.23 collects unreferenced timers.
//
// A timer's lock orders everything that can happen to it: firing, stop, reset, its channel's
// end. Go 1.23's rule — after stop() or reset() returns, no value from the old deadline is
// received — comes from two things done under that lock: bumping `seq`, so that a fire already
// popped from the heap but not yet run does nothing; and draining the channel, so that a value
// delivered but not yet received is discarded. Lock order: timer, then heap or channel.
#include <goro/time.hpp>

#include "chan/chan.hpp"
#include "os/clock.hpp"
#include "os/spinlock.hpp"
#include "sched/sched.hpp"
#include "time/timers.hpp"

#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

namespace goro::detail {

struct TimerState {
  rt::TimerEntry entry;  // first: a TimerEntry* is a TimerState*
  std::atomic<long> refs{1};
  rt::os::SpinLock lock;
  std::uint64_t seq = 0;
  bool pending = false;    // armed, or popped and not yet delivered
  ChanCore* ch = nullptr;  // its channel (a buffer of one); null for after_func timers, and
                           // once the channel is gone
  TimerFunc fn;
};

}  // namespace goro::detail

namespace goro::detail {
namespace {

using namespace rt;

TimerState* state_of(TimerEntry* e) { return reinterpret_cast<TimerState*>(e); }

// Sends the time to s's channel, if it has one (s's lock held). It never blocks: the buffer of
// one is full only when a slow Ticker reader has not taken the last tick, which it then misses.
void send_time(TimerState* s, std::int64_t now) {
  time_point t{std::chrono::nanoseconds(now)};
  try {
    if (s->ch) chan_send(s->ch, &t, false);
  } catch (const closed_channel&) {
    // Somebody closed the timer's channel: there is nobody to tell.
  }
}

void fire(TimerEntry* e, std::uint64_t seq, std::int64_t now) {
  TimerState* s = state_of(e);
  {
    std::lock_guard lock(s->lock);
    if (seq == s->seq) {  // not stopped or reset since it was popped
      if (!s->entry.period) s->pending = false;
      if (s->fn.call) {
        // The goroutine's reference, owned by its closure: released when the goroutine ends,
        // and also when the runtime stops before it starts and drops it (so is the function).
        struct Ref {
          TimerState* s;
          explicit Ref(TimerState* state) : s(state) { timer_retain(s); }
          Ref(Ref&& o) noexcept : s(std::exchange(o.s, nullptr)) {}
          ~Ref() {
            if (s) timer_release(s);
          }
        };
        goro::go([ref = Ref(s)] { ref.s->fn.call(ref.s->fn.obj); });
      } else {
        send_time(s, now);
      }
    }
  }
  timer_release(s);  // the heap's reference (it let go of a one-shot), or the one keep() took
}

// The heap's reference: given back when the heap is discarded; doubled while a periodic fire
// is under way (fire() gives the extra one back), so a disarm meanwhile cannot free s. And
// whether firing s could wake a goroutine (deadlock detection).
bool owner(TimerEntry* e, TimerEntry::Event event) {
  TimerState* s = state_of(e);
  switch (event) {
    case TimerEntry::Event::keep:
      timer_retain(s);
      break;
    case TimerEntry::Event::drop:
      timer_release(s);
      break;
    case TimerEntry::Event::wakes: {
      // Under the heap's lock: ours may only be tried (lock order: timer, then heap). Held, s is
      // being fired, stopped or reset right now; say yes, and the detector looks again later.
      std::unique_lock lock(s->lock, std::try_to_lock);
      if (!lock.owns_lock() || !s->ch) return true;  // no channel: after_func starts a goroutine
      // A value sent to the channel wakes only a goroutine parked on it already (a receive, a
      // select); with every goroutine asleep, nobody else will come for it.
      return !from_core(s->ch)->recvq.empty(std::memory_order_acquire);
    }
  }
  return true;
}

constexpr const char* kNoRuntime = "goro: timers need a running runtime; use them inside goro::run";

// Arms s (lock held) d from now; the heap takes a reference.
void arm_locked(TimerState* s, std::chrono::nanoseconds d, std::chrono::nanoseconds period) {
  // Still in a heap after stop_locked: a plain thread whose disarm the stopping runtime refused
  // (teardown drops the entry). A worker may still pop it: the entry must keep its fields and its
  // old seq, which makes that fire a no-op. Arming would be refused anyway.
  if (s->entry.heap.load(std::memory_order_acquire)) throw std::logic_error(kNoRuntime);
  s->entry.when = os::later(os::now_ns(), d.count() > 0 ? d.count() : 0);
  s->entry.period = period.count();
  s->entry.seq.store(s->seq, std::memory_order_release);
  s->pending = true;
  timer_retain(s);
  if (!arm(&s->entry)) {
    s->pending = false;
    timer_release(s);
    throw std::logic_error(kNoRuntime);
  }
}

// Stops s (lock held): true if a delivery was prevented.
bool stop_locked(TimerState* s) {
  // Only our seq moves on: the entry keeps the one it was armed with (arm_locked publishes the
  // next), so whatever pop comes — before the disarm, or after a disarm the stopping runtime
  // refused, the entry still in its heap — records a seq that is stale from here on, and its
  // fire does nothing. (Giving the entry the new seq here let such a late pop deliver.)
  if (disarm(&s->entry)) timer_release(s);  // the heap's reference
  ++s->seq;
  bool prevented = s->pending;
  s->pending = false;
  time_point drained;
  if (s->ch && chan_recv(s->ch, &drained, false) == Recv::value) prevented = true;  // discarded
  return prevented;
}

}  // namespace

// Go 1.23 runs an expired timer when its channel is received from (maybeRunChan), so that a
// try_recv or a select with a default sees a deadline that has passed even while no scheduler
// has run the heap yet: its P computing without a scheduling point, and no idle worker (procs
// 1, or every P busy) to run it for that P. Here the receiver fires it itself, if it can take
// the entry out of its heap first; if it cannot, the heap has popped it and is about to fire
// it. One-shot timers only: a Ticker's deadline moves under its heap's lock, not under ours.
// If the timer's lock is held, it is being fired, stopped or reset right now (or this is
// stop_locked draining the channel, its lock held): the receive then comes before that.
void timer_run_if_due(TimerState* s) noexcept {
  std::unique_lock lock(s->lock, std::try_to_lock);
  if (!lock.owns_lock()) return;
  if (!s->pending || !s->ch || s->entry.period != 0) return;
  const std::int64_t now = os::now_ns();
  if (s->entry.when > now || !disarm(&s->entry)) return;
  timer_release(s);  // the heap's reference (the channel's keeps s alive)
  s->pending = false;
  send_time(s, now);
}

TimerState* timer_start(std::chrono::nanoseconds d, std::chrono::nanoseconds period, TimerFunc fn,
                        chan<time_point>& ch_out) {
  rt::note_plain_thread();  // a plain thread that makes a timer may wake a goroutine later
  chan<time_point> ch = fn.call ? chan<time_point>::nil() : chan<time_point>(1);
  auto* s = new TimerState;
  s->entry.fire = &fire;
  s->entry.owner = &owner;
  s->fn = fn;
  if (ch) {
    s->ch = ch.core();
    rt::set_timer_of_channel(ch.core(), s);
    timer_retain(s);  // the channel's reference
  }
  try {
    std::lock_guard lock(s->lock);
    arm_locked(s, d, period);
  } catch (...) {
    if (ch) rt::set_timer_of_channel(ch.core(), nullptr);
    s->fn = {};  // on failure fn stays with the caller
    delete s;
    throw;
  }
  ch_out = std::move(ch);
  return s;
}

void timer_channel_gone(TimerState* s) noexcept {
  {
    std::lock_guard lock(s->lock);  // waits out a fire sending to the channel right now
    s->ch = nullptr;
    stop_locked(s);
  }
  timer_release(s);  // the channel's reference
}

void timer_retain(TimerState* s) noexcept { s->refs.fetch_add(1, std::memory_order_relaxed); }

void timer_release(TimerState* s) noexcept {
  if (s->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (s->fn.destroy) s->fn.destroy(s->fn.obj);
  delete s;
}

namespace {
TimerState& checked(TimerState* s, const char* what) {
  if (!s) throw std::logic_error(std::string("goro: ") + what + " of a moved-from Timer or Ticker");
  return *s;
}
}  // namespace

bool timer_stop(TimerState* s) {
  std::lock_guard lock(checked(s, "stop").lock);
  return stop_locked(s);
}

bool timer_reset(TimerState* s, std::chrono::nanoseconds d, std::chrono::nanoseconds period) {
  std::lock_guard lock(checked(s, "reset").lock);  // entry.period is written under it (arm_locked)
  if (s->entry.period > 0 && period.count() <= 0)
    throw std::invalid_argument("goro: a Ticker's period must be positive");
  const bool prevented = stop_locked(s);
  arm_locked(s, d, period);
  return prevented;
}

}  // namespace goro::detail

namespace goro {

chan<time_point> after(std::chrono::nanoseconds d) { return Timer(d).channel(); }

}  // namespace goro
