// goro/time.hpp — sleeping, timers, tickers (Go's time package, the parts about waiting).
//
//   goro::sleep_for(10ms);                                   // parks the goroutine
//   goro::select(goro::on_recv(replies, handle),
//                goro::on_recv(goro::after(50ms), timeout)); // a timeout
//   goro::Ticker tick(1s);
//   for (;;) { tick.channel().recv(); report(); }            // slow readers miss ticks
//
// Timers follow Go 1.23: after stop() or reset() returns, no value from the old deadline is
// received from the channel; stop() returns true if it prevented a delivery. Timers need a
// running runtime (std::logic_error otherwise); sleep_for and sleep_until on a plain thread
// just sleep the thread.
#pragma once

#include <goro/chan.hpp>
#include <goro/runtime.hpp>

#include <chrono>
#include <memory>
#include <ratio>
#include <type_traits>
#include <utility>

namespace goro {

using time_point = std::chrono::steady_clock::time_point;

namespace detail {

// d in nanoseconds, saturated. std::chrono's implicit conversion to nanoseconds does not check
// for overflow: seconds::max() becomes -1 s and hours::max() -1 h, so a "forever" written that
// way would fire at once. Beyond the range: nanoseconds::max() (never) or min() (now). Floating
// point is taken, as std::this_thread::sleep_for takes it; NaN counts as 0.
template <class Rep, class Period>
constexpr std::chrono::nanoseconds saturated_ns(std::chrono::duration<Rep, Period> d) {
  using ns = std::chrono::nanoseconds;
  const long double v = std::chrono::duration<long double, std::nano>(d).count();  // no overflow
  if (__builtin_isnan(v)) return ns::zero();
  if (v >= static_cast<long double>(ns::max().count())) return ns::max();
  if (v <= static_cast<long double>(ns::min().count())) return ns::min();
  using Factor = std::ratio_divide<Period, std::nano>;
  if constexpr (std::is_integral_v<Rep> && (Factor::num == 1 || Factor::den == 1))
    return std::chrono::duration_cast<ns>(d);  // exact, and in range: no intermediate overflows
  else
    return ns(static_cast<ns::rep>(v));
}

template <class Duration>
constexpr time_point saturated_time(std::chrono::time_point<std::chrono::steady_clock, Duration> t) {
  return time_point(saturated_ns(t.time_since_epoch()));
}

}  // namespace detail

// Each function taking a duration or a time point also takes one of any unit (and floating
// point), saturated to nanoseconds rather than overflowing: seconds::max() means never.
void sleep_for(std::chrono::nanoseconds d);
void sleep_until(time_point t);
template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> d) {
  sleep_for(detail::saturated_ns(d));
}
template <class Duration>
void sleep_until(std::chrono::time_point<std::chrono::steady_clock, Duration> t) {
  sleep_until(detail::saturated_time(t));
}

namespace detail {

struct TimerState;
struct TimerFunc {  // the function of an after_func timer
  void* obj = nullptr;
  void (*call)(void*) = nullptr;
  void (*destroy)(void*) = nullptr;
};

// period > 0: a ticker. fn: an after_func timer (no channel). Arms it at now + d; `ch` gets
// the timer's channel (nil for after_func).
TimerState* timer_start(std::chrono::nanoseconds d, std::chrono::nanoseconds period, TimerFunc fn,
                        chan<time_point>& ch);
void timer_retain(TimerState* s) noexcept;
void timer_release(TimerState* s) noexcept;
bool timer_stop(TimerState* s);
bool timer_reset(TimerState* s, std::chrono::nanoseconds d, std::chrono::nanoseconds period);

// Shared ownership of a TimerState, and a handle of its channel. The channel holds its timer in
// turn (time/timer.cpp): the timer runs while a handle of either is alive, and once both are
// gone it stops and is freed, as Go 1.23 collects unreferenced timers.
class TimerHandle {
 public:
  TimerHandle(const TimerHandle& o) noexcept : ch_(o.ch_), s_(o.s_) {
    if (s_) timer_retain(s_);  // null: o was moved from
  }
  TimerHandle(TimerHandle&& o) noexcept : ch_(std::move(o.ch_)), s_(std::exchange(o.s_, nullptr)) {}
  TimerHandle& operator=(TimerHandle o) noexcept {
    std::swap(ch_, o.ch_);
    std::swap(s_, o.s_);
    return *this;
  }
  ~TimerHandle() {
    if (s_) timer_release(s_);
  }

 protected:
  TimerHandle(std::chrono::nanoseconds d, std::chrono::nanoseconds period)
      : s_(timer_start(d, period, {}, ch_)) {}
  explicit TimerHandle(TimerState* s) : s_(s) {}  // an after_func timer: no channel
  chan<time_point> ch_ = chan<time_point>::nil();  // first: timer_start fills it in
  TimerState* s_;
};

}  // namespace detail

class Timer : private detail::TimerHandle {
 public:
  // Fires once, d from now: channel() then yields the time it fired.
  explicit Timer(std::chrono::nanoseconds d) : TimerHandle(d, {}) {}
  template <class Rep, class Period>
  explicit Timer(std::chrono::duration<Rep, Period> d) : Timer(detail::saturated_ns(d)) {}

  // The channel the time arrives on; a nil channel for an after_func timer.
  chan<time_point> channel() const { return ch_; }
  // Prevents the timer from firing. True if that stopped a delivery: the timer was pending,
  // or it had fired and nobody had received the value yet (the value is discarded).
  bool stop() { return detail::timer_stop(s_); }
  // As stop(), then arms the timer to fire d from now. Returns what stop() would have.
  bool reset(std::chrono::nanoseconds d) { return detail::timer_reset(s_, d, {}); }
  template <class Rep, class Period>
  bool reset(std::chrono::duration<Rep, Period> d) {
    return reset(detail::saturated_ns(d));
  }

 private:
  template <class F>
  friend Timer after_func(std::chrono::nanoseconds d, F f);
  explicit Timer(detail::TimerState* s) : TimerHandle(s) {}
};

class Ticker : private detail::TimerHandle {
 public:
  // Ticks every `period` (> 0, else std::invalid_argument). A receiver that falls behind misses
  // ticks instead of getting a backlog, as with Go's Ticker.
  explicit Ticker(std::chrono::nanoseconds period) : TimerHandle(checked(period), period) {}
  template <class Rep, class Period>
  explicit Ticker(std::chrono::duration<Rep, Period> period) : Ticker(detail::saturated_ns(period)) {}

  chan<time_point> channel() const { return ch_; }
  void stop() { detail::timer_stop(s_); }
  void reset(std::chrono::nanoseconds period) { detail::timer_reset(s_, period, period); }
  template <class Rep, class Period>
  void reset(std::chrono::duration<Rep, Period> period) {
    reset(detail::saturated_ns(period));
  }

 private:
  static std::chrono::nanoseconds checked(std::chrono::nanoseconds period) {
    if (period <= std::chrono::nanoseconds::zero())
      throw std::invalid_argument("goro: a Ticker's period must be positive");
    return period;
  }
};

// A channel that receives the time once, d from now (Go's time.After).
chan<time_point> after(std::chrono::nanoseconds d);
template <class Rep, class Period>
chan<time_point> after(std::chrono::duration<Rep, Period> d) {
  return after(detail::saturated_ns(d));
}

// Runs f() in its own goroutine d from now (and again after each reset that re-arms it). The
// Timer's stop() cancels it if it has not started. A null f: std::invalid_argument.
template <class F>
Timer after_func(std::chrono::nanoseconds d, F f) {
  detail::check_callable(f, "goro: after_func of a null function");
  using Fn = std::decay_t<F>;
  detail::TimerFunc fn;
  auto owned = std::make_unique<Fn>(std::move(f));
  fn.obj = owned.get();
  fn.call = [](void* p) { (*static_cast<Fn*>(p))(); };
  fn.destroy = [](void* p) { delete static_cast<Fn*>(p); };
  chan<time_point> none = chan<time_point>::nil();  // an after_func timer has no channel
  detail::TimerState* s = detail::timer_start(d, {}, fn, none);  // owns fn from here on
  owned.release();
  return Timer(s);
}
template <class Rep, class Period, class F>
Timer after_func(std::chrono::duration<Rep, Period> d, F f) {
  return after_func(detail::saturated_ns(d), std::move(f));
}

}  // namespace goro
