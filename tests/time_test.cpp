// tests/time_test.cpp — sleep_for/sleep_until, Timer (Go 1.23 rules), Ticker, after, after_func:
// Go's time/sleep_test.go and tick_test.go, on goroutines and plain threads; stop/reset racing
// with the fire; deadlock detection with and without pending timers.
//
// Timing: this runs on noisy machines. Lower bounds ("slept at least d") are exact; upper bounds
// are only ever generous give-up limits, and orderings use deadlines far apart.
#include "support.hpp"

#include "chan/chan.hpp"
#include "sched/sched.hpp"
#include "time/heap.hpp"
#include "time/timers.hpp"

#include <goro/chan.hpp>
#include <goro/select.hpp>
#include <goro/sync.hpp>
#include <goro/time.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace goro_test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using goro::chan;
using goro::time_point;

namespace {

// Waits until the timer's channel holds a value (it fired, nobody received); false after 20 s.
// The value a timer channel holds for its receiver. size() says 0, as Go 1.23's len does (timer
// channels are synchronous to the program), but the runtime buffers one; these tests look at it.
std::size_t buffered(const chan<time_point>& ch) {
  return goro::rt::from_core(ch.core())->count.load();
}

bool wait_buffered(const chan<time_point>& ch) {
  const auto give_up = Clock::now() + 20s;
  while (buffered(ch) == 0) {
    if (Clock::now() > give_up) return false;
    goro::sleep_for(200us);
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The heap itself

namespace {
std::vector<std::int64_t> heap_fired;
void record_fire(goro::rt::TimerEntry* t, std::uint64_t, std::int64_t) {
  heap_fired.push_back(t->when);
}
}  // namespace

TEST_CASE("TimerHeap: entries removed from anywhere, the rest fire in deadline order") {
  using goro::rt::TimerEntry;
  std::mt19937 rng(7);
  goro::rt::TimerHeap heap;
  std::vector<TimerEntry> entries(3000);
  // Every third entry is fire_only, as a sleeper's: the heap must move it around without ever
  // writing to it, and fire it in order with the rest.
  constexpr std::uint32_t kUntouched = 0xdeadbeef;
  for (std::size_t i = 0; i < entries.size(); i += 3) {
    entries[i].fire_only = true;
    entries[i].index = kUntouched;
  }
  auto arm = [&](TimerEntry& e) {
    e.when = std::uniform_int_distribution<std::int64_t>(1, 1000)(rng);  // many equal deadlines
    e.fire = record_fire;
    std::lock_guard lock(heap.lock);
    heap.add_locked(&e);
  };
  std::vector<TimerEntry*> order;
  for (std::size_t i = 0; i < 2000; ++i) {
    arm(entries[i]);
    if (!entries[i].fire_only) order.push_back(&entries[i]);
  }
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<TimerEntry*> removed(order.begin(), order.begin() + 1000);
  {
    std::lock_guard lock(heap.lock);
    for (TimerEntry* e : removed) REQUIRE(heap.remove_locked(e));
    for (TimerEntry* e : removed) CHECK(!heap.remove_locked(e));  // no longer armed
  }
  for (std::size_t i = 2000; i < 3000; ++i) arm(entries[i]);
  for (TimerEntry* e : removed) arm(*e);  // re-armed entries come back
  CHECK(heap.size() == 3000);

  heap_fired.clear();
  CHECK(heap.run_expired(500) == static_cast<int>(std::count_if(
                                     entries.begin(), entries.end(),
                                     [](const TimerEntry& e) { return e.when <= 500; })));
  CHECK(heap.earliest() > 500);
  heap.run_expired(1000);
  CHECK(heap_fired.size() == 3000);
  CHECK(std::is_sorted(heap_fired.begin(), heap_fired.end()));
  CHECK(heap.size() == 0);
  CHECK(heap.earliest() == 0);
  for (std::size_t i = 0; i < entries.size(); i += 3) {
    CHECK(entries[i].index == kUntouched);
    CHECK(entries[i].heap.load() == nullptr);
  }
}

// ---------------------------------------------------------------------------------------------
// Sleeping

TEST_CASE("sleep_for and sleep_until sleep at least as long as asked") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      std::atomic<long> short_sleeps{0}, finished{0};
      const std::chrono::nanoseconds durations[] = {1us, 100us, 1ms, 5ms, 20ms, 50ms};
      for (auto d : durations)
        goro::go([&, d] {
          for (int i = 0; i < 3; ++i) {
            const auto start = Clock::now();
            goro::sleep_for(d);
            if (Clock::now() - start < d) ++short_sleeps;
            const auto until = Clock::now() + d;
            goro::sleep_until(until);
            if (Clock::now() < until) ++short_sleeps;
          }
          ++finished;
        });
      REQUIRE(wait_count(finished, std::size(durations)));
      CHECK(short_sleeps.load() == 0);
      // Nothing to wait for: return at once (a bug would hang here, or park forever).
      goro::sleep_for(0ns);
      goro::sleep_for(-1s);
      goro::sleep_until(Clock::now() - 1h);
      goro::sleep_until(time_point{});
    });
  });
}

TEST_CASE("a duration too long to add to the clock means never, not a wrap into the past") {
  goro::run([] {
    constexpr auto forever = std::chrono::nanoseconds::max();
    std::atomic<bool> woke{false}, ran{false};
    goro::go([&] {
      goro::sleep_for(forever);
      woke = true;
    });
    goro::Timer timer(forever);
    goro::Ticker ticker(forever);
    auto after = goro::after(forever);
    goro::Timer func = goro::after_func(forever, [&] { ran = true; });
    goro::Timer reset(1h);
    reset.reset(forever);
    goro::sleep_for(50ms);
    CHECK(!woke);
    CHECK(!timer.channel().try_recv());
    CHECK(!ticker.channel().try_recv());
    CHECK(!after.try_recv());
    CHECK(!reset.channel().try_recv());
    CHECK(!ran);
    CHECK(timer.stop());  // still pending
    CHECK(func.stop());
    CHECK(reset.stop());
    ticker.stop();
  });  // the sleeper is abandoned
}

// std::chrono converts a coarser duration to nanoseconds implicitly, with an overflow it does not
// check: seconds::max() becomes -1 s, hours::max() -1 h, 1000 years a negative count. "Forever"
// written that way made a Timer fire at once, a sleep return at once, a Ticker throw. Durations
// and time points of any unit saturate instead.
TEST_CASE("a duration of any unit too long for nanoseconds means never, not an overflow into the past") {
  using namespace std::chrono;
  goro::run([] {
    std::atomic<bool> woke{false}, woke_until{false}, ran{false};
    goro::go([&] {
      goro::sleep_for(seconds::max());
      woke = true;
    });
    goro::go([&] {
      goro::sleep_until(time_point_cast<seconds>(Clock::now()) + hours(24 * 365 * 1000));
      woke_until = true;
    });
    goro::Timer timer(hours::max());
    goro::Ticker ticker(milliseconds::max());
    auto after = goro::after(seconds::max());
    goro::Timer func = goro::after_func(hours(24 * 365 * 1000), [&] { ran = true; });
    goro::Timer reset(1h);
    CHECK(reset.reset(minutes::max()));
    goro::Ticker ticker_reset(1h);
    ticker_reset.reset(seconds::max());
    goro::sleep_for(20ms);
    CHECK(!woke);
    CHECK(!woke_until);
    CHECK(!timer.channel().try_recv());
    CHECK(!ticker.channel().try_recv());
    CHECK(!after.try_recv());
    CHECK(!reset.channel().try_recv());
    CHECK(!ticker_reset.channel().try_recv());
    CHECK(!ran);
    CHECK(timer.stop());  // still pending
    CHECK(func.stop());
    CHECK(reset.stop());

    // The other way: far in the past is now.
    goro::Timer past(seconds::min());
    CHECK(past.channel().recv());
    goro::sleep_for(hours::min());
    goro::sleep_until(std::chrono::time_point<steady_clock, seconds>::min());
    CHECK_THROWS_AS(goro::Ticker(seconds::min()), std::invalid_argument);
  });  // the sleepers are abandoned
}

TEST_CASE("floating-point durations, as std::this_thread::sleep_for takes them") {
  using namespace std::chrono;
  goro::run([] {
    const auto start = Clock::now();
    goro::sleep_for(duration<double, std::milli>(2.5));
    CHECK(Clock::now() - start >= 2500us);
    goro::sleep_for(duration<double>(std::numeric_limits<double>::quiet_NaN()));  // as 0: returns
    goro::Timer huge(duration<double>(1e300));  // never
    goro::Timer soon(duration<float, std::micro>(100.0f));
    CHECK(soon.channel().recv());
    CHECK(huge.stop());
  });
}

TEST_CASE("many sleepers, each wakes no earlier than its deadline") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      const long n = scaled(4000);
      std::atomic<long> early{0}, woke{0};
      std::mt19937 rng(42);
      const auto base = Clock::now();
      for (long i = 0; i < n; ++i) {
        const auto deadline = base + std::chrono::microseconds(rng() % 100'000);
        goro::go([&, deadline] {
          goro::sleep_until(deadline);
          if (Clock::now() < deadline) ++early;
          ++woke;
        });
      }
      REQUIRE(wait_count(woke, n));
      CHECK(early.load() == 0);
    });
  });
}

TEST_CASE("sleepers wake in deadline order") {
  // Spawned in reverse order of their deadlines, 75 ms apart. Sleepers whose timers come due in
  // one batch may run in either order (as in Go), and that happens only if the machine stalls
  // the run past the next deadline: an attempt in which every sleeper woke less than 50 ms after
  // its deadline must show them in deadline order. A stalled attempt is repeated; a timer heap
  // that fires late or out of order stalls every attempt and fails.
  each_procs([](goro::Config c) {
    constexpr int n = 5, attempts = 5;
    int judged = 0;
    for (int attempt = 0; attempt < attempts && judged == 0; ++attempt) {
      std::vector<int> rank(n, -1);
      std::vector<Clock::duration> late(n);
      goro::run(c, [&] {
        const auto base = Clock::now() + 20ms;
        std::atomic<int> next{0};
        std::atomic<long> woke{0};
        for (int i = n - 1; i >= 0; --i)
          goro::go([&, i] {
            const auto deadline = base + i * 75ms;
            goro::sleep_until(deadline);
            late[static_cast<std::size_t>(i)] = Clock::now() - deadline;
            rank[static_cast<std::size_t>(i)] = next++;
            ++woke;
          });
        REQUIRE(wait_count(woke, n));
      });
      for (int i = 0; i < n; ++i) CHECK(late[static_cast<std::size_t>(i)] >= 0ms);  // never early
      if (*std::max_element(late.begin(), late.end()) >= 50ms) continue;  // stalled: not judged
      ++judged;
      for (int i = 0; i < n; ++i) CHECK(rank[static_cast<std::size_t>(i)] == i);
    }
    CHECK_MESSAGE(judged == 1, "a sleeper woke 50 ms or more late in every one of " << attempts << " attempts");
  });
}

TEST_CASE("sleep_for on a plain thread sleeps the thread") {
  auto timed = [](auto&& f) {
    const auto start = Clock::now();
    f();
    return Clock::now() - start;
  };
  CHECK(timed([] { goro::sleep_for(20ms); }) >= 20ms);  // no runtime at all
  const auto until = Clock::now() + 10ms;
  goro::sleep_until(until);
  CHECK(Clock::now() >= until);
  goro::Config c;
  c.procs = 1;
  goro::run(c, [&] {
    std::atomic<long> ticks{0};
    std::atomic<bool> stop{false};
    goro::go([&] {
      while (!stop) {
        ++ticks;
        goro::sleep_for(1ms);
      }
    });
    Clock::duration slept{};
    std::thread t([&] { slept = timed([] { goro::sleep_for(30ms); }); });
    t.join();  // blocks this worker, but the thread's sleep is its own
    CHECK(slept >= 30ms);
    // Inside blocking() the goroutine's thread sleeps, and the P runs other goroutines.
    const long before = ticks;
    const auto inside = timed([&] {
      goro::blocking([&] {
        goro::sleep_for(50ms);
        // The P's new worker may take a while to get a CPU on a loaded machine.
        eventually([&] { return ticks.load() > before; });
      });
    });
    CHECK(inside >= 50ms);
    CHECK(ticks.load() > before);
    stop = true;
  });
}

// goro has no preemption, but a goroutine that polls with yield() passes through the scheduler
// each time — as runtime.Gosched does in Go, where a Gosched loop lets timers fire. (goro at
// a6b188f failed this with one P: yield() returned at once when nothing else was runnable,
// without looking at the P's timers, so the sleeper never woke; later, the sleeper woke only when
// the monitor handed the P on, 10 ms late.)
TEST_CASE("a goroutine polling with yield() does not keep timers from firing") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      std::atomic<bool> woke{false};
      goro::go([&] {
        goro::sleep_for(1ms);
        woke = true;
      });
      const auto give_up = Clock::now() + 20s;
      while (!woke && Clock::now() < give_up) goro::yield();
      CHECK(woke.load());
    });
  });
  // With one P, one yield() after the deadline is enough: it runs the P's expired timers.
  goro::Config c;
  c.procs = 1;
  goro::run(c, [] {
    std::atomic<bool> woke{false};
    goro::go([&] {
      goro::sleep_for(1ms);
      woke = true;
    });
    goro::yield();                                      // the sleeper arms its timer and parks
    std::this_thread::sleep_for(3ms);                   // keeps the P: the timer falls due
    goro::yield();                                      // runs it, then the sleeper
    CHECK(woke.load());
  });
}

// Go 1.23 runs an expired timer when its channel is received from, so a try_recv or a select
// with a default sees a passed deadline even while no scheduler has run the timer heap. Here
// nothing does: one P, its goroutine computing without a scheduling point. Before, the value came
// only once the P ran its timers again (up to 10 ms late, at the monitor's hand-off).
TEST_CASE("an expired timer is delivered when its channel is received from, as in Go 1.23") {
  goro::Config c;
  c.procs = 1;
  goro::run(c, [] {
    auto compute_past = [](std::chrono::nanoseconds d) {  // no scheduling point in here
      const auto until = Clock::now() + d;
      while (Clock::now() < until) {
      }
    };
    goro::Timer t(1ms);
    compute_past(3ms);
    const std::optional<time_point> v = t.channel().try_recv();
    REQUIRE(v);
    CHECK(!t.stop());  // it has fired: there is nothing to stop
    goro::sleep_for(2ms);  // the heap's own run finds nothing more to deliver
    CHECK(!t.channel().try_recv());

    chan<time_point> after = goro::after(1ms);
    compute_past(3ms);
    bool fired = false;
    goro::select(goro::on_recv(after, [&](std::optional<time_point> at) { fired = at.has_value(); }),
                 goro::on_default([] {}));
    CHECK(fired);

    // Not yet due: nothing, and the timer still fires on time.
    goro::Timer later(20ms);
    CHECK(!later.channel().try_recv());
    CHECK(later.channel().recv());

    // Stopped or reset before the receive: nothing from the old deadline.
    goro::Timer stopped(1ms);
    compute_past(3ms);
    CHECK(stopped.stop());
    CHECK(!stopped.channel().try_recv());
    goro::Timer reset(1ms);
    compute_past(3ms);
    CHECK(reset.reset(1h));
    CHECK(!reset.channel().try_recv());
  });
}

// Go 1.23 made timer channels synchronous: len and cap are 0, whether or not a value waits.
TEST_CASE("a Timer's channel has size 0 and capacity 0, as Go 1.23's timer channels") {
  goro::run([] {
    goro::Timer t(1ms);
    goro::chan<goro::time_point> after = goro::after(1ms);
    for (const auto& ch : {t.channel(), after}) {
      REQUIRE(wait_buffered(ch));
      CHECK(ch.size() == 0);
      CHECK(ch.capacity() == 0);
      CHECK(ch.try_recv().has_value());  // the value is there all the same
    }
  });
}

// goro does not preempt, so with one P a computing goroutine delays every timer. With more Ps,
// timers.hpp promises that "a timer fires on time even when its own P is busy computing": an
// idle P must take over: arming a timer with no worker waiting in the poller wakes one, as Go's
// wakeNetPoller does.
TEST_CASE("a timer fires while the goroutine that armed it computes, if another P is idle") {
  each_procs({2u, 8u}, [](goro::Config c) {
    goro::run(c, [] {
      std::atomic<bool> ran{false};
      const auto start = Clock::now();
      goro::Timer t = goro::after_func(10ms, [&] { ran = true; });
      while (!ran && Clock::now() - start < 20s) {
      }  // computing, never yielding
      CHECK(ran.load());
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Timer

TEST_CASE("Timer fires once, with the time it fired") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      const auto start = Clock::now();
      goro::Timer t(10ms);
      CHECK(t.channel() == t.channel());
      CHECK(static_cast<bool>(t.channel()));
      const auto v = t.channel().recv();
      REQUIRE(v);
      CHECK(*v >= start + 10ms);
      CHECK(*v <= Clock::now());
      CHECK(Clock::now() - start >= 10ms);
      goro::sleep_for(30ms);
      CHECK(!t.channel().try_recv());  // once
      CHECK(!t.stop());                // fired and received: nothing left to prevent

      // A zero or negative duration fires at once.
      goro::Timer now(0ns), past(-1s);
      CHECK(now.channel().recv());
      CHECK(past.channel().recv());
    });
  });
}

TEST_CASE("Timer: stop before firing returns true and nothing is ever received") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      const auto armed = Clock::now();
      goro::Timer t(200ms);
      chan<int> quit, result(1);
      goro::go([&] {  // a receiver already waiting when stop() comes
        std::size_t which = goro::select(goro::on_recv(t.channel()), goro::on_recv(quit));
        result.send(static_cast<int>(which));
      });
      goro::sleep_for(1ms);
      const bool in_time = Clock::now() < armed + 200ms;  // else the machine stalled 200 ms
      const bool stopped = t.stop();
      if (in_time) CHECK(stopped);
      CHECK(!t.stop());  // already stopped
      goro::sleep_for(250ms);
      CHECK(!t.channel().try_recv());
      quit.close();
      CHECK(result.recv() == (stopped ? 1 : 0));  // stopped: woken by quit, never by the timer
    });
  });
}

// Go 1.23: a value sent but not yet received is discarded by stop() and reset(), which then
// report that they prevented a delivery.
TEST_CASE("Timer: after stop() or reset() no stale value is received, even if it had fired") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      {
        goro::Timer t(1ms);
        REQUIRE(wait_buffered(t.channel()));
        CHECK(t.stop());
        CHECK(buffered(t.channel()) == 0);
        goro::sleep_for(20ms);
        CHECK(!t.channel().try_recv());
        CHECK(!t.stop());
      }
      {
        goro::Timer t(1ms);
        REQUIRE(wait_buffered(t.channel()));
        CHECK(t.reset(1h));
        CHECK(!t.channel().try_recv());
        const auto rearmed = Clock::now();
        CHECK(t.reset(5ms));  // pending (1h): prevented
        const auto v = t.channel().recv();
        REQUIRE(v);
        CHECK(*v >= rearmed + 5ms);  // the new deadline's value, not the old one's
      }
      {
        // A pending timer reset to a later deadline does not fire at the old one.
        goro::Timer t(5ms);
        const auto rearmed = Clock::now();
        CHECK(t.reset(60ms));
        const auto v = t.channel().recv();
        REQUIRE(v);
        CHECK(*v >= rearmed + 60ms);
        CHECK(Clock::now() >= rearmed + 60ms);
      }
    });
  });
}

TEST_CASE("Timer: reset re-arms a fired, stopped or pending timer") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::Timer t(1h);
      auto start = Clock::now();
      CHECK(t.reset(10ms));  // was pending
      auto v = t.channel().recv();
      REQUIRE(v);
      CHECK(*v >= start + 10ms);
      start = Clock::now();
      CHECK(!t.reset(10ms));  // had fired and been received
      v = t.channel().recv();
      REQUIRE(v);
      CHECK(*v >= start + 10ms);
      CHECK(!t.stop());
      start = Clock::now();
      CHECK(!t.reset(5ms));  // stopped
      v = t.channel().recv();
      REQUIRE(v);
      CHECK(*v >= start + 5ms);
      // Copies are handles on one timer.
      goro::Timer copy = t;
      CHECK(copy.channel() == t.channel());
      copy.reset(1h);
      CHECK(t.stop());
    });
  });
}

// A moved-from Timer or Ticker holds no timer; like any moved-from value it may still be copied,
// assigned and destroyed.
TEST_CASE("Timer, Ticker: a moved-from handle can be copied and assigned") {
  goro::run([] {
    goro::Timer t(1h);
    goro::Timer moved = std::move(t);
    goro::Timer copy = t;  // NOLINT(bugprone-use-after-move): the point of the test
    copy = t;
    t = moved;  // and a moved-from handle takes a timer again
    CHECK(t.stop());
    goro::Ticker tick(1h);
    goro::Ticker other = std::move(tick);
    goro::Ticker tick_copy = tick;  // NOLINT(bugprone-use-after-move)
    other.stop();
  });
}

TEST_CASE("misuse: stop or reset of a moved-from Timer or Ticker throws, naming it") {
  goro::run([] {
    goro::Timer t(1h);
    goro::Timer kept = std::move(t);
    CHECK_THROWS_WITH_AS(t.stop(), "goro: stop of a moved-from Timer or Ticker", std::logic_error);
    CHECK_THROWS_WITH_AS(t.reset(1ms), "goro: reset of a moved-from Timer or Ticker", std::logic_error);
    goro::Ticker tick(1h);
    goro::Ticker other = std::move(tick);
    CHECK_THROWS_AS(tick.stop(), std::logic_error);
    CHECK_THROWS_AS(tick.reset(1ms), std::logic_error);
    CHECK(kept.stop());
    other.stop();
  });
}

// One owner, nobody receiving: whatever point the fire has reached — pending, popped from the
// heap but not delivered, delivered — stop() and reset() prevent it, return true, and no value
// ever shows up afterwards.
TEST_CASE("stress: stop and reset racing with the fire, one owner") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      // Deadlines of 0-3 us and a stop 0-3 us later: the fire, run by whichever worker looks at
      // the heap, lands at every point of stop() and reset().
      const long rounds = scaled(40000);
      std::atomic<long> false_returns{0}, stale{0}, finished{0};
      constexpr int kGoroutines = 4;
      for (int g = 0; g < kGoroutines; ++g)
        goro::go([&, g] {
          std::mt19937 rng(static_cast<unsigned>(g));
          std::vector<goro::Timer> stopped;
          auto check_stopped = [&] {
            goro::sleep_for(1ms);  // anything in flight lands by now
            for (auto& t : stopped)
              if (t.channel().try_recv()) ++stale;
            stopped.clear();
          };
          for (long r = 0; r < rounds; ++r) {
            goro::Timer t(std::chrono::nanoseconds(rng() % 3000));
            spin_for(std::chrono::nanoseconds(rng() % 3000));
            if (r % 64 == 63) goro::yield();
            if (r % 2) {
              if (!t.stop()) ++false_returns;
            } else {
              if (!t.reset(1h)) ++false_returns;
              if (!t.stop()) ++false_returns;  // pending again
            }
            if (t.channel().try_recv()) ++stale;
            stopped.push_back(t);
            if (stopped.size() == 1000) check_stopped();
          }
          check_stopped();
          ++finished;
        });
      REQUIRE(wait_count(finished, kGoroutines));
      CHECK(false_returns.load() == 0);
      CHECK(stale.load() == 0);
    });
  });
}

// With a receiver waiting: each deadline is either received or prevented by stop(), never both,
// never neither.
TEST_CASE("stress: stop racing with the fire and a waiting receiver") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      const long rounds = scaled(1500);
      std::atomic<long> both{0}, neither{0}, finished{0};
      constexpr int kGoroutines = 4;
      for (int g = 0; g < kGoroutines; ++g)
        goro::go([&, g] {
          std::mt19937 rng(static_cast<unsigned>(100 + g));
          for (long r = 0; r < rounds; ++r) {
            goro::Timer t(std::chrono::microseconds(rng() % 80));
            chan<int> quit, got(1);
            goro::go([t, quit, got]() mutable {
              int which = static_cast<int>(goro::select(goro::on_recv(t.channel()), goro::on_recv(quit)));
              got.send(which == 0 ? 1 : 0);
            });
            spin_for(std::chrono::microseconds(rng() % 80));
            if (r % 3 == 0) goro::yield();
            const bool prevented = t.stop();
            quit.close();
            const bool received = *got.recv() == 1;
            if (prevented && received) ++both;
            if (!prevented && !received) ++neither;
          }
          ++finished;
        });
      REQUIRE(wait_count(finished, kGoroutines));
      CHECK(both.load() == 0);
      CHECK(neither.load() == 0);
    });
  });
}

// Many goroutines stopping and resetting one Timer, and one Ticker, while a receiver drains
// them. Afterwards: a final stop() leaves nothing to receive, and reset still works.
TEST_CASE("stress: stop and reset of one timer from many goroutines") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::Timer timer(50us);
      goro::Ticker ticker(50us);
      std::atomic<bool> stop{false};
      std::atomic<long> received{0}, finished{0}, drained{0};
      goro::go([&] {
        while (!stop) {
          goro::select(goro::on_recv(timer.channel(), [&](auto) { ++received; }),
                       goro::on_recv(ticker.channel(), [&](auto) { ++received; }),
                       goro::on_recv(goro::after(1ms)));
        }
        ++drained;
      });
      const long ops = scaled(4000);
      constexpr int kGoroutines = 6;
      for (int g = 0; g < kGoroutines; ++g)
        goro::go([&, g] {
          std::mt19937 rng(static_cast<unsigned>(7 * g));
          for (long i = 0; i < ops; ++i) {
            const auto d = std::chrono::microseconds(1 + rng() % 100);
            switch (rng() % 4) {
              case 0: timer.stop(); break;
              case 1: timer.reset(d); break;
              case 2: ticker.reset(d); break;
              default: ticker.stop();
            }
            if (i % 64 == 0) goro::sleep_for(100us);  // let some deadlines come
            else if (i % 16 == 0) goro::yield();
          }
          ++finished;
        });
      REQUIRE(wait_count(finished, kGoroutines));
      stop = true;
      REQUIRE(wait_count(drained, 1));
      timer.stop();
      ticker.stop();
      goro::sleep_for(5ms);
      CHECK(!timer.channel().try_recv());
      CHECK(!ticker.channel().try_recv());
      MESSAGE("procs " << goro::procs() << ": " << received.load() << " values received during the storm");
      timer.reset(1ms);
      CHECK(timer.channel().recv());
      ticker.reset(1ms);
      CHECK(ticker.channel().recv());
    });
  });
}

// 100,000 timers armed from goroutines spread over every P (so every P's heap holds some), with
// deadlines over 20 ms: goroutines receive from some, stop others, and a plain thread stops the
// rest, all while they fall due and fire. Each deadline is received or prevented by stop(),
// never both, never neither; afterwards nothing is left armed.
TEST_CASE("stress: 100k timers over every P, received or stopped from goroutines and a plain thread") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      const long n = scaled(100'000);
      constexpr int kArmers = 8;
      std::vector<std::optional<goro::Timer>> timers(static_cast<std::size_t>(n));
      std::atomic<long> armed{0};
      for (int a = 0; a < kArmers; ++a)
        goro::go([&, a] {
          std::mt19937 rng(static_cast<unsigned>(a));
          for (long i = a; i < n; i += kArmers) {
            timers[static_cast<std::size_t>(i)].emplace(std::chrono::microseconds(rng() % 20'000));
            if (i % 256 == 0) goro::yield();
          }
          ++armed;
        });
      REQUIRE(wait_count(armed, kArmers));
      std::vector<char> got(static_cast<std::size_t>(n), 0), stopped(static_cast<std::size_t>(n), 0);
      std::atomic<long> finished{0};
      constexpr int kWorkers = 4;  // worker w takes i % 8 == w (receives) and i % 8 == w + 4 (stops)
      for (int w = 0; w < kWorkers; ++w)
        goro::go([&, w] {
          for (long i = w; i < n; i += 8) {
            got[static_cast<std::size_t>(i)] = timers[static_cast<std::size_t>(i)]->channel().recv().has_value();
            const auto j = static_cast<std::size_t>(i + 4);
            if (i + 4 < n && (i / 8) % 2 == 0) stopped[j] = timers[j]->stop();
          }
          ++finished;
        });
      std::thread plain([&] {  // the other half of the stops
        for (long i = 0; i < n; ++i)
          if (i % 8 >= 4 && (i / 8) % 2 == 1) stopped[static_cast<std::size_t>(i)] = timers[static_cast<std::size_t>(i)]->stop();
      });
      REQUIRE(wait_count(finished, kWorkers));
      goro::blocking([&] { plain.join(); });
      long both = 0, neither = 0, unstopped = 0;
      for (long i = 0; i < n; ++i) {
        const auto k = static_cast<std::size_t>(i);
        if (i % 8 >= 4 && !stopped[k]) ++unstopped;  // nobody received it: pending, or discarded
        if (got[k] && stopped[k]) ++both;
        if (!got[k] && !stopped[k]) ++neither;
      }
      CHECK(both == 0);
      CHECK(neither == 0);
      CHECK(unstopped == 0);
      CHECK(goro::rt::earliest_timer() == 0);
    });
  });
}

// Go 1.23 collects a timer nobody can reach any more, fired or not. goro stops and frees it when
// the last handle of the Timer (or Ticker) and of its channel is gone; while either is held, it
// runs. (Before the commit that changed this test, a dropped timer stayed armed until it fired
// and a dropped Ticker ticked for ever: an after(1h) in a select loop kept ~280 bytes per
// iteration for an hour, and 20,000 dropped Tickers kept a core busy.)
TEST_CASE("Timer, Ticker, after: one nobody can reach is stopped and freed; a held channel keeps it") {
  goro::run([] {
    chan<time_point> ch = goro::Timer(5ms).channel();  // the Timer is gone, its channel is not
    CHECK(ch.recv());
    for (int i = 0; i < 1000; ++i) goro::Timer(std::chrono::hours(1));  // dropped at once
    for (int i = 0; i < 1000; ++i) (void)goro::after(std::chrono::hours(1));
    for (int i = 0; i < 100; ++i) goro::Ticker(std::chrono::milliseconds(1));
    CHECK(goro::rt::earliest_timer() == 0);  // nothing armed
    chan<time_point> ticks = chan<time_point>::nil();
    {
      goro::Ticker ticker(1ms);
      ticks = ticker.channel();
    }  // the Ticker is gone, a handle of its channel is not: it keeps ticking
    CHECK(ticks.recv());
    CHECK(ticks.recv());
    ticks = chan<time_point>::nil();
    CHECK(goro::rt::earliest_timer() == 0);
    chan<int> ready(1);
    for (int i = 0; i < 10000; ++i) {  // the usual receive-with-timeout
      ready.send(i);
      CHECK(goro::select(goro::on_recv(ready), goro::on_recv(goro::after(std::chrono::hours(1)))) == 0);
    }
    CHECK(goro::rt::earliest_timer() == 0);
  });  // ASan's leak check proves the states were freed
}

// ---------------------------------------------------------------------------------------------
// Ticker

TEST_CASE("Ticker ticks every period, keeping to its phase") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      const auto start = Clock::now();
      goro::Ticker ticker(10ms);
      time_point last{};
      for (int k = 1; k <= 5; ++k) {
        const auto v = ticker.channel().recv();
        REQUIRE(v);
        CHECK(*v > last);
        CHECK(*v >= start + k * 10ms);  // the k-th tick received is at least the k-th tick
        last = *v;
      }
      CHECK(Clock::now() - start >= 50ms);
      ticker.stop();
    });
  });
}

// A Ticker's tick goes back into the heap before it is delivered, without the heap's lock: its
// state must outlive a drop in between. (Before the commit that added this test, the last
// handles going on one worker freed the state under a tick another worker was delivering: a
// heap-use-after-free under ASan at procs 2 and more.)
TEST_CASE("Tickers dropped while their ticks are being delivered") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::WaitGroup wg;
      for (int w = 0; w < 4; ++w) {
        wg.add(1);
        goro::go([&] {
          for (int i = 0; i < 300; ++i) {
            std::vector<goro::Ticker> tickers;
            for (int k = 0; k < 16; ++k) tickers.emplace_back(1us);
            CHECK(tickers[0].channel().recv());
          }  // all dropped, perhaps with ticks in flight
          wg.done();
        });
      }
      wg.wait();
    });
  });
}

TEST_CASE("Ticker drops ticks for a slow receiver") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::Ticker ticker(10ms);
      goro::sleep_for(150ms);  // fifteen periods, nobody reading
      const auto slept_until = Clock::now();
      CHECK(buffered(ticker.channel()) == 1);  // one tick waiting, not fifteen
      const auto first = ticker.channel().recv();
      REQUIRE(first);
      // The ticks missed are gone: the next one a reader gets is a fresh one, not a backlog.
      const auto next = ticker.channel().recv();
      REQUIRE(next);
      CHECK(*next > *first);
      CHECK(*next > slept_until - 50ms);  // not one of the ticks missed 50-150 ms ago
      ticker.stop();
    });
  });
}

TEST_CASE("Ticker: stop ends the ticks and discards a buffered one; reset changes the period") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::Ticker ticker(2ms);
      REQUIRE(wait_buffered(ticker.channel()));
      ticker.stop();
      CHECK(buffered(ticker.channel()) == 0);  // Go 1.23: no stale tick after Stop
      goro::sleep_for(30ms);
      CHECK(!ticker.channel().try_recv());
      ticker.stop();  // twice is fine

      auto start = Clock::now();
      ticker.reset(5ms);  // a stopped ticker starts again
      auto v = ticker.channel().recv();
      REQUIRE(v);
      CHECK(*v >= start + 5ms);

      ticker.reset(1h);  // discards what was buffered, and the next tick is an hour away
      CHECK(!ticker.channel().try_recv());
      goro::sleep_for(20ms);
      CHECK(!ticker.channel().try_recv());

      start = Clock::now();
      ticker.reset(15ms);
      for (int k = 1; k <= 3; ++k) {
        v = ticker.channel().recv();
        REQUIRE(v);
        CHECK(*v >= start + k * 15ms);
      }
      ticker.stop();

      CHECK_THROWS_AS(goro::Ticker(0ns), std::invalid_argument);
      CHECK_THROWS_AS(goro::Ticker(-1ms), std::invalid_argument);
      CHECK_THROWS_AS(ticker.reset(0ns), std::invalid_argument);
      CHECK_THROWS_AS(ticker.reset(-5ms), std::invalid_argument);
      CHECK(!ticker.channel().try_recv());  // the failed resets left it stopped
    });
  });
}

// ---------------------------------------------------------------------------------------------
// after, after_func

TEST_CASE("after() as a timeout in select") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      chan<int> never;
      auto start = Clock::now();
      time_point fired{};
      std::size_t idx = goro::select(goro::on_recv(never),
                                     goro::on_recv(goro::after(20ms), [&](auto v) { fired = *v; }));
      CHECK(idx == 1);
      CHECK(fired >= start + 20ms);
      CHECK(Clock::now() - start >= 20ms);

      // The reply comes first: the timeout does not fire.
      chan<int> reply;
      goro::go([=]() mutable {
        goro::sleep_for(5ms);
        reply.send(7);
      });
      int got = 0;
      idx = goro::select(goro::on_recv(reply, [&](auto v) { got = *v; }), goro::on_recv(goro::after(1h)));
      CHECK(idx == 0);
      CHECK(got == 7);

      // A loop of timeouts, as a Go program polls.
      int timeouts = 0;
      for (int i = 0; i < 5; ++i)
        if (goro::select(goro::on_recv(never), goro::on_recv(goro::after(1ms))) == 1) ++timeouts;
      CHECK(timeouts == 5);
    });
  });
}

TEST_CASE("after_func runs f in its own goroutine after d") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      chan<std::uint64_t> ran(1);
      const auto start = Clock::now();
      std::atomic<long> early{0};
      goro::Timer t = goro::after_func(10ms, [=, &early]() mutable {
        if (Clock::now() - start < 10ms) ++early;
        ran.send(goro::goroutine_id());
      });
      CHECK(!static_cast<bool>(t.channel()));  // an after_func timer has no channel
      const auto id = ran.recv();
      REQUIRE(id);
      CHECK(*id != 0);
      CHECK(*id != goro::goroutine_id());
      CHECK(early.load() == 0);
      CHECK(!t.stop());  // it has run

      // f may block: it is a goroutine, not a callback on the timer's thread.
      chan<int> handoff, done(1);
      goro::Timer first = goro::after_func(1ms, [=]() mutable { done.send(*handoff.recv()); });
      goro::Timer second = goro::after_func(5ms, [=]() mutable { handoff.send(42); });
      CHECK(done.recv() == 42);
    });
  });
}

TEST_CASE("after_func of a null function throws std::invalid_argument at the call") {
  goro::run([] {
    void (*none)() = nullptr;
    CHECK_THROWS_WITH_AS(goro::after_func(1ms, none), "goro: after_func of a null function",
                         std::invalid_argument);
    CHECK_THROWS_AS(goro::after_func(1ms, std::function<void()>{}), std::invalid_argument);
    goro::sleep_for(5ms);  // had either been armed, its goroutine would have failed by now
  });
}

TEST_CASE("after_func: stop cancels it, reset re-runs it") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      std::atomic<long> runs{0};
      const auto armed = Clock::now();
      goro::Timer t = goro::after_func(200ms, [&] { ++runs; });
      const bool in_time = Clock::now() < armed + 200ms;  // else the machine stalled 200 ms
      const bool stopped = t.stop();
      if (in_time) CHECK(stopped);
      CHECK(!t.stop());
      goro::sleep_for(250ms);
      CHECK(runs.load() == (stopped ? 0 : 1));
      runs = 0;

      CHECK(!t.reset(5ms));  // stopped: nothing prevented; runs again now
      REQUIRE(wait_count(runs, 1));
      CHECK(!t.reset(5ms));  // it ran: reset makes it run once more
      REQUIRE(wait_count(runs, 2));
      CHECK(!t.reset(1h));   // it ran: nothing prevented; re-armed an hour away
      CHECK(t.reset(5ms));   // pending again: prevented the 1 h run; runs in 5 ms instead
      REQUIRE(wait_count(runs, 3));
      goro::sleep_for(20ms);
      CHECK(runs.load() == 3);
      CHECK(!t.stop());
    });
  });
}

TEST_CASE("after_func: the function is destroyed once the timer is done with it") {
  auto token = std::make_shared<int>(0);
  goro::run([&] {
    chan<int> ran(1);
    {
      goro::Timer t = goro::after_func(1ms, [token, ran]() mutable { ran.send(1); });
      CHECK(token.use_count() == 2);
    }
    ran.recv();
    goro::Timer stopped = goro::after_func(1h, [token] {});
    CHECK(stopped.stop());
    const auto give_up = Clock::now() + 20s;
    while (token.use_count() > 2 && Clock::now() < give_up) goro::sleep_for(1ms);
    CHECK(token.use_count() == 2);  // the fired one's copy is gone; `stopped` keeps its own
  });
  CHECK(token.use_count() == 1);  // the stopped timer's state went with its handle
}

// The timer fired, so its function's goroutine is spawned, but run returns before that goroutine
// starts: teardown drops it, and the function must be destroyed with it. At procs 1 both timers
// fire in one batch, after_func's first; the channel's send readies main into runnext ahead of
// the function's goroutine, and main returns at once.
TEST_CASE("after_func: the function is destroyed when run returns before its goroutine starts") {
  auto token = std::make_shared<int>(0);
  goro::Config c;
  c.procs = 1;
  goro::run(c, [&] {
    goro::after_func(0ns, [token] {});
    goro::Timer wake(0ns);
    wake.channel().recv();
  });
  CHECK(token.use_count() == 1);  // (had the goroutine run, it would have let go of it too)
}

// ---------------------------------------------------------------------------------------------
// Plain threads, no runtime

TEST_CASE("timers used from a plain thread while a runtime runs") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      std::atomic<long> ok{0};
      std::atomic<bool> afunc_ran{false};
      chan<int> finished(1);
      std::thread t([&] {
        const auto start = Clock::now();
        goro::Timer timer(10ms);
        if (auto v = timer.channel().recv(); v && *v >= start + 10ms) ++ok;
        if (goro::after(5ms).recv()) ++ok;
        goro::Ticker ticker(2ms);
        for (int i = 0; i < 3; ++i) ticker.channel().recv();
        ticker.stop();
        ++ok;
        goro::Timer stopped(1h);
        if (stopped.stop()) ++ok;
        chan<int> done(1);
        goro::Timer f = goro::after_func(2ms, [&afunc_ran, done]() mutable {
          afunc_ran = goro::goroutine_id() != 0;
          done.send(1);
        });
        done.recv();
        ++ok;
        finished.send(1);
      });
      // The main goroutine waits on a channel meanwhile (parked, its P free for the timers).
      REQUIRE(goro::select(goro::on_recv(finished), goro::on_recv(goro::after(20s))) == 0);
      goro::blocking([&] { t.join(); });
      CHECK(ok.load() == 5);
      CHECK(afunc_ran.load());
    });
  });
}

// The runtime tears its timer heaps down when run returns; a plain thread stopping a timer at
// that moment must not reach into a heap that is gone (time/timers.cpp disarm). The window is
// narrow, so this is a stress test: under ASan a use after free shows, and a stop that returns
// must leave no value behind either way.
TEST_CASE("a plain thread stops and resets a timer while run returns") {
  for (int round = 0; round < 40; ++round) {
    std::optional<goro::Timer> timer;
    std::atomic<bool> started{false};
    std::thread t;
    goro::run([&] {
      timer.emplace(1h);
      t = std::thread([&] {
        started = true;
        try {
          for (;;) {
            timer->stop();
            timer->reset(1h);  // throws once the runtime has stopped
          }
        } catch (const std::logic_error&) {
        }
        timer->stop();  // after the run: nothing to disarm any more
      });
      while (!started) goro::yield();
      for (int i = 0; i < round % 8; ++i) goro::yield();
    });
    t.join();
    CHECK_FALSE(timer->channel().try_recv().has_value());
  }
}

// While run() is stopping, a plain thread's stop() or reset() cannot reach the timer's heap
// (time/timers.cpp disarm): the entry stays armed until teardown drops it. A worker may still
// run that heap meanwhile — one past its last look at `stopping`, or a goroutine still running
// on another P — and pop the entry once it is due; that fire must do nothing, or a value from
// before stop() or reset() would wait in the channel. Here the plain thread keeps the runtime
// from tearing down (an ExternalScope taken before main returns) and runs the heaps itself, as
// such a worker would, with every deadline past. (goro at caa5eb8 delivered the value: stop()
// gave the entry the new seq while it was still in the heap, so the pop recorded that one.)
TEST_CASE("a timer stopped or reset by a plain thread while run returns never delivers after") {
  for (const bool reset : {false, true}) {
    CAPTURE(reset);
    std::optional<goro::Timer> timer;
    std::atomic<bool> ready{false}, held{false}, stopped{false}, threw{false};
    std::thread t;
    goro::run([&] {
      timer.emplace(1h);
      t = std::thread([&] {
        const goro::rt::ExternalScope scope;  // run() waits for it before tearing down
        held = scope.admitted();
        ready = true;
        if (!held) return;
        while (!goro::rt::sched.stopping.load()) std::this_thread::yield();
        if (reset) {
          try {
            timer->reset(1h);  // stops it, then cannot arm it again: the runtime is stopping
          } catch (const std::logic_error&) {
            threw = true;
          }
        } else {
          stopped = timer->stop();
        }
        for (auto& p : goro::rt::sched.ps) p->timers.run_expired(std::numeric_limits<std::int64_t>::max());
      });
      while (!ready) goro::yield();
    });
    t.join();
    REQUIRE(held.load());
    CHECK((reset ? threw.load() : stopped.load()));
    CHECK_FALSE(timer->channel().try_recv().has_value());
  }
}

// A plain thread arms a timer while the goroutines run; then they all enter blocking(), which
// hands their Ps back idle. Somebody must still fire the timer (in Go, handoffp wakes the
// poller for the P's timers; so does goro's).
TEST_CASE("a timer armed by a plain thread fires while every goroutine is inside blocking()") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      std::atomic<bool> armed{false}, fired{false};
      chan<int> quit;
      std::thread t([&, quit] {
        goro::Timer timer(20ms);
        armed = true;
        if (goro::select(goro::on_recv(timer.channel()), goro::on_recv(quit)) == 0) fired = true;
      });
      while (!armed) {
      }  // hold the P, running, while the thread arms its timer
      goro::blocking([&] {
        const auto give_up = Clock::now() + 20s;
        while (!fired && Clock::now() < give_up) std::this_thread::sleep_for(1ms);
      });
      CHECK(fired.load());
      quit.close();
      goro::blocking([&] { t.join(); });
    });
  });
}

TEST_CASE("timers need a running runtime: std::logic_error without one") {
  CHECK_THROWS_AS(goro::Timer(1ms), std::logic_error);
  CHECK_THROWS_AS(goro::Ticker(1ms), std::logic_error);
  CHECK_THROWS_AS(goro::after(1ms), std::logic_error);
  auto token = std::make_shared<int>(0);
  CHECK_THROWS_AS(goro::after_func(1ms, [token] {}), std::logic_error);
  CHECK(token.use_count() == 1);  // the function was not leaked

  // A Timer that outlives its runtime: the runtime's stop dropped it; using it is safe.
  std::optional<goro::Timer> survivor;
  goro::run([&] { survivor.emplace(1h); });
  survivor->stop();
  CHECK(!survivor->channel().try_recv());
  CHECK_THROWS_AS(survivor->reset(1ms), std::logic_error);
  survivor.reset();

  // And a thread that starts timers while no runtime runs.
  std::thread t([] { CHECK_THROWS_AS(goro::Timer(1ms), std::logic_error); });
  t.join();
}

// ---------------------------------------------------------------------------------------------
// Deadlock detection and timers

TEST_CASE("a goroutine waiting for what a pending timer will send is not deadlocked") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      chan<int> ch;
      // Longer than the detector's grace period: every goroutine is blocked meanwhile.
      goro::Timer t = goro::after_func(300ms, [ch]() mutable { ch.send(1); });
      CHECK(ch.recv() == 1);
      // A select with a timeout, a ticker, a sleeping goroutine: all pending timers.
      chan<int> never;
      CHECK(goro::select(goro::on_recv(never), goro::on_recv(goro::after(200ms))) == 1);
      goro::Ticker ticker(150ms);
      ticker.channel().recv();
      ticker.stop();
      goro::go([ch]() mutable {
        goro::sleep_for(200ms);
        ch.send(2);
      });
      CHECK(ch.recv() == 2);
      // Main waits on another channel; the goroutine that will send there waits on the timer.
      goro::Timer timer(200ms);
      goro::go([timer, ch]() mutable {
        timer.channel().recv();
        ch.send(3);
      });
      CHECK(ch.recv() == 3);
    });
  });
}

TEST_CASE("once the timers have fired and every goroutine is blocked, run reports a deadlock") {
  each_procs([](goro::Config c) {
    std::string report = deadlock_report(c, [] {
      chan<int> ch;
      goro::Timer t = goro::after_func(20ms, [ch]() mutable { ch.send(1); });
      ch.recv();
      ch.recv();  // nobody will send again, and no timer is pending
    });
    INFO(report);
    CHECK(starts_with(report, "all goroutines are asleep - deadlock!"));
    CHECK(contains(report, "goroutine 1 [chan receive, "));

    // A stopped timer's channel never delivers: waiting on it is a deadlock.
    report = deadlock_report(c, [] {
      goro::Timer t(1h);
      t.stop();
      t.channel().recv();
    });
    CHECK(starts_with(report, "all goroutines are asleep - deadlock!"));
    CHECK(contains(report, "goroutine 1 [chan receive, "));

    // ... and so is waiting, in a select, on a stopped ticker and a nil channel.
    report = deadlock_report(c, [] {
      goro::Ticker ticker(1ms);
      ticker.stop();
      goro::go([] { goro::sleep_for(30ms); });  // sleeps, then exits: a deadlock only after
      goro::select(goro::on_recv(ticker.channel()), goro::on_recv(chan<int>::nil()));
    });
    CHECK(starts_with(report, "all goroutines are asleep - deadlock!"));
    CHECK(contains(report, "goroutine 1 [select, "));
  });
}

// A Timer or Ticker whose channel no goroutine is parked on cannot wake anyone: its fire only
// leaves a value there. Go 1.23 keeps such timers out of its heaps, so it reports this deadlock.
// (goro at caa5eb8 counted every armed timer as a possible waker: with the Ticker, run never
// returned.)
TEST_CASE("a Timer or Ticker that nobody waits on does not hide a deadlock") {
  each_procs([](goro::Config c) {
    const std::string report = deadlock_report(c, [] {
      goro::Ticker ticker(10ms);
      goro::Timer timer(1h);
      chan<int> ch;
      ch.recv();
    });
    INFO(report);
    CHECK(starts_with(report, "all goroutines are asleep - deadlock!"));
    CHECK(contains(report, "goroutine 1 [chan receive, "));
  });
}

TEST_CASE("a sleeping goroutine shows in dump as [sleep]") {
  goro::run([] {
    goro::go([] { goro::sleep_for(1h); });
    goro::go([] { goro::after(1h).recv(); });
    // Both parked: they may run on another P, slowly under the sanitizers.
    wait_parked("sleep");
    wait_parked("chan receive");
    std::ostringstream out;
    goro::dump(out);
    INFO(out.str());
    CHECK(contains(out.str(), "goroutine 2 [sleep, "));
    CHECK(contains(out.str(), "goroutine 3 [chan receive, "));
  });  // abandoned with their timers pending; run returns at once
}
