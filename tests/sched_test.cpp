// tests/sched_test.cpp — the scheduler: many goroutines, fairness, stealing, parking and
// readying across Ps, idle workers, blocking(), and stopping with goroutines left behind.
#include "support.hpp"

#include <goro/goro.hpp>

#include "sched/park.hpp"
#include "sched/sched.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <unistd.h>

namespace goro_test {

// The monitor's take of a running goroutine's P, paused on demand (runtime/sched/monitor.cpp).
struct TakePause {
  std::atomic<bool> armed{false};
  std::atomic<int> stage{-1};      // the last stage the monitor reached while armed
  std::atomic<bool> resume{false};  // stage 0 may go on
  std::atomic<long> calls{0};       // goro calls the goroutine has made meanwhile
  std::atomic<bool> checked{false};  // the test has looked: later takes may go on
};
TakePause take_pause;

// While set, the monitor waits at the start of every take until the flag it points to is set
// (20 s at most): no goroutine loses its P to it meanwhile.
std::atomic<const std::atomic<bool>*> hold_takes_until{nullptr};

void take_running_hook(int stage) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  if (const std::atomic<bool>* until = hold_takes_until.load(); until && stage == 0)
    while (!until->load() && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::microseconds(100));
  if (!take_pause.armed.load()) return;
  if (stage == 0) {
    take_pause.stage = 0;
    while (!take_pause.resume && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    return;
  }
  // Before withdrawing: let the goroutine's calls see the announcement first.
  const long at = take_pause.calls;
  while (take_pause.calls < at + 100 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  // Later takes wait until the test has looked at what this one did: the monitor may take a P
  // from a goroutine meanwhile for reasons of its own (work that waits), which would blur it.
  hold_takes_until = &take_pause.checked;
  take_pause.armed = false;
  take_pause.stage = 1;
}

// handoffp() about to put a P it found nothing for in the idle list, paused on demand
// (runtime/sched/idle.cpp).
struct HandoffPause {
  std::atomic<bool> armed{false};
  std::atomic<bool> reached{false};
  std::atomic<bool> resume{false};
};
HandoffPause handoff_pause;

void handoff_idle_hook() {
  if (!handoff_pause.armed.exchange(false)) return;
  handoff_pause.reached = true;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!handoff_pause.resume && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
}

}  // namespace goro_test

#define GORO_TEST_TAKE_RUNNING(stage, p, m) ::goro_test::take_running_hook(stage)
#include "sched/monitor.cpp"
#define GORO_TEST_HANDOFF_IDLE() ::goro_test::handoff_idle_hook()
#include "sched/idle.cpp"

using namespace goro_test;
using namespace std::chrono_literals;

namespace {

void wait_for(const std::atomic<long>& counter, long target) {
  while (counter.load() != target) goro::yield();
}

}  // namespace

TEST_CASE("a million goroutines each run exactly once") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      const long n = scaled(1'000'000);
      std::atomic<long> ran{0};
      for (long i = 0; i < n; ++i) goro::go([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
      wait_for(ran, n);
      CHECK(goro::stats().spawned >= static_cast<std::uint64_t>(n));
    });
  });
}

TEST_CASE("runnext: the owner and thieves never take the same goroutine, nor lose one") {
  using goro::rt::G;
  using goro::rt::RunQueue;
  for (bool heavy_fences : {true, false}) {
    if (heavy_fences && !goro::rt::os::heavy_fences_available()) continue;
    CAPTURE(heavy_fences);
    // The owner fills runnext with tokens (never run: only counted) and takes them back; two
    // thieves, whose own rings are empty, try to steal runnext all the while. The owner's ring
    // stays empty, so a thief can only ever get runnext. Rounds of n tokens go on until the
    // thieves have won a few hundred races (or 10 s have passed); between rounds the thieves
    // pause, and every token of the round must have been taken exactly once.
    const long n = scaled(200'000);
    RunQueue victim(heavy_fences);
    std::vector<std::atomic<int>> taken(static_cast<std::size_t>(n) + 1);
    auto token = [](long i) { return reinterpret_cast<G*>(static_cast<std::uintptr_t>(i) * 64); };
    auto count = [&](G* g) { ++taken[reinterpret_cast<std::uintptr_t>(g) / 64]; };
    std::atomic<bool> done{false}, pause{false};
    std::atomic<long> stolen{0}, thieves_paused{0};
    std::vector<std::thread> thieves;
    for (int t = 0; t < 2; ++t)
      thieves.emplace_back([&] {
        RunQueue mine(heavy_fences);
        while (!done.load()) {
          if (pause.load()) {  // acknowledge, and wait for the next round
            ++thieves_paused;
            while (pause.load() && !done.load()) std::this_thread::yield();
            --thieves_paused;
            continue;
          }
          std::uint32_t moved = 0;
          if (G* g = victim.steal_into(mine, true, moved)) {
            count(g);
            ++stolen;
          }
        }
      });
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    long rounds = 0, wrong = 0;
    do {
      for (long i = 1; i <= n; ++i) {
        if (G* displaced = victim.exchange_next(token(i))) count(displaced);
        if (i % 3 == 0)
          if (G* g = victim.take_next(false)) count(g);
        if (i % 4096 == 0) std::this_thread::yield();  // thieves get a core even when cores are scarce
      }
      if (G* g = victim.take_next(false)) count(g);
      pause = true;
      while (thieves_paused.load() < 2) std::this_thread::yield();
      for (long i = 1; i <= n; ++i) wrong += taken[static_cast<std::size_t>(i)].exchange(0) != 1;
      ++rounds;
      pause = false;
      while (thieves_paused.load() > 0) std::this_thread::yield();
    } while (stolen.load() < 300 && std::chrono::steady_clock::now() < give_up);
    done = true;
    for (auto& t : thieves) t.join();
    CHECK(wrong == 0);
    CHECK(stolen.load() > 0);
    MESSAGE("stolen by thieves: " << stolen.load() << " in " << rounds << " rounds of " << n);
  }
}

TEST_CASE("a goroutine yielding in a loop does not starve others") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      std::atomic<bool> stop{false};
      std::atomic<long> spinners_done{0};
      for (int i = 0; i < 4; ++i)
        goro::go([&] {
          while (!stop) goro::yield();
          ++spinners_done;
        });
      // Far more goroutines than a local queue holds, so some wait in the global queue.
      std::atomic<long> ran{0};
      for (int i = 0; i < 3000; ++i) goro::go([&] { ++ran; });
      wait_for(ran, 3000);
      stop = true;
      wait_for(spinners_done, 4);
    });
  });
}

// Go's Gosched passes through the scheduler; goro's yield() keeps the goroutine on its P but must
// still notice what that pass would. (Until the commit that added this test, yield() with nothing
// else runnable returned at once: run() never returned while a goroutine polled that way at
// procs 2, and a failure elsewhere was never reported.)
TEST_CASE("run returns, and reports a failure, while a goroutine polls with yield()") {
  each_procs([](goro::Config c) {
    std::atomic<bool> never{false};
    goro::run(c, [&] {
      goro::go([&] { while (!never) goro::yield(); });
      goro::sleep_for(5ms);
    });
    CHECK_THROWS_AS(goro::run(c, [&] {
      goro::go([&] { while (!never) goro::yield(); });
      goro::sleep_for(5ms);
      goro::go([] { throw std::runtime_error("boom"); });
      park_forever();
    }), std::runtime_error);
  });
}

// Plain threads spawn into the global queue, which grows with its lock released (globalq.hpp):
// pushes racing a growth, or another growth, lose and duplicate nothing.
TEST_CASE("goroutines spawned from many plain threads at once each run exactly once") {
  each_procs([](goro::Config c) {
    constexpr int kThreads = 4, kEach = 20000;
    std::vector<std::atomic<int>> runs(kThreads * kEach);
    std::atomic<long> ran{0};
    goro::run(c, [&] {
      std::vector<std::thread> spawners;
      for (int t = 0; t < kThreads; ++t)
        spawners.emplace_back([&, t] {
          for (int i = 0; i < kEach; ++i)
            goro::go([&, k = t * kEach + i] {
              runs[static_cast<std::size_t>(k)]++;
              ++ran;
            });
        });
      goro::blocking([&] {
        for (auto& th : spawners) th.join();
      });
      wait_for(ran, kThreads * kEach);
    });
    CHECK(std::all_of(runs.begin(), runs.end(), [](const std::atomic<int>& n) { return n == 1; }));
  });
}

// Every P computing, with no scheduling point: the monitor hands a P on when the global queue's
// goroutines wait, as it does for a local queue's. Goroutines land in the global queue when a
// plain thread spawns or wakes them (and when the monitor polls the network).
TEST_CASE("goroutines in the global queue run while every P computes") {
  each_procs({1u, 2u}, [](goro::Config c) {
    // Outside main: a computing goroutine may look at `stop` only after main has returned and
    // its frame is gone (reused by main's own exit path; the test then hung, rarely, under load).
    std::atomic<bool> spawned_ran{false}, woken_ran{false}, stop{false};
    goro::run(c, [&] {
      goro::chan<int> wake;
      goro::go([&] {
        wake.recv();
        woken_ran = true;
      });
      goro::sleep_for(5ms);  // it parks in recv
      std::atomic<unsigned> computing{1};  // main, and one more per extra P
      for (unsigned i = 1; i < c.procs; ++i)
        goro::go([&] {
          ++computing;
          while (!stop) {
          }
        });
      while (computing < c.procs) {
      }
      std::thread([&] {  // neither call waits for a goroutine
        goro::go([&] { spawned_ran = true; });
        wake.send(1);  // hands the value to the parked receiver
      }).join();
      const auto start = std::chrono::steady_clock::now();
      while (!(spawned_ran && woken_ran) && std::chrono::steady_clock::now() - start < 20s) {
      }  // computing, never yielding
      stop = true;
      CHECK(spawned_ran.load());
      CHECK(woken_ran.load());
      CHECK(goro::stats().preempt_handoffs >= 1);
    });
  });
}

TEST_CASE("a runnext ping-pong pair does not starve the rest of the queue") {
  goro::Config c;
  c.procs = 1;
  goro::run(c, [] {
    Signal a, b;
    std::atomic<bool> stop{false};
    std::atomic<long> done{0};
    goro::go([&] {
      while (!stop) {
        b.signal();
        a.wait();
      }
      b.signal();
      ++done;
    });
    goro::go([&] {
      while (!stop) {
        a.signal();
        b.wait();
      }
      a.signal();
      ++done;
    });
    std::atomic<long> others{0};
    for (int i = 0; i < 100; ++i) goro::go([&] { ++others; });
    wait_for(others, 100);
    stop = true;
    wait_for(done, 2);
  });
}

// Such a pair, alone on the only P, never ends a time slice: the P's timers and the global
// queue, looked at once per kGlobalCheckTicks slices, must still be. (Until the commit that
// added this test, runnext kept its slice for good while the ring was empty: main's 1 ms sleep,
// or a goroutine spawned by a plain thread, waited until the pair stopped.)
TEST_CASE("a runnext ping-pong pair does not starve timers or the global queue") {
  goro::Config c;
  c.procs = 1;
  for (const bool timer : {true, false}) {
    CAPTURE(timer);
    goro::run(c, [timer] {
      Signal a, b;
      std::atomic<bool> stop{false}, gave_up{false};
      auto player = [&](Signal& mine, Signal& other) {
        const auto give_up = std::chrono::steady_clock::now() + 5s;
        while (!stop) {
          if (std::chrono::steady_clock::now() > give_up) {
            gave_up = true;  // and the other waits for good: main's return abandons it
            return;
          }
          other.signal();
          mine.wait();
        }
      };
      goro::go([&] { player(a, b); });
      goro::go([&] { player(b, a); });
      if (timer) {
        goro::sleep_for(1ms);
      } else {
        goro::chan<int> ran;
        std::thread([&] { goro::go([&] { ran.send(1); }); }).join();
        ran.recv();
      }
      CHECK(!gave_up);
      stop = true;  // they may still be running; main's return abandons them
    });
  }
}

TEST_CASE("park and ready hand a token around a ring of goroutines on every P") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      constexpr int kRing = 64;
      const long rounds = scaled(400);
      std::vector<Signal> slots(kRing);
      std::atomic<long> hops{0}, finished{0};
      for (int i = 0; i < kRing; ++i)
        goro::go([&, i] {
          for (long r = 0; r < rounds; ++r) {
            slots[static_cast<std::size_t>(i)].wait();
            hops.fetch_add(1, std::memory_order_relaxed);
            slots[static_cast<std::size_t>((i + 1) % kRing)].signal();
          }
          ++finished;
        });
      slots[0].signal();
      wait_for(finished, kRing);
      CHECK(hops == kRing * rounds);
    });
  });
}

TEST_CASE("many independent pairs park and ready each other across Ps") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      constexpr int kPairs = 100;
      const long trips = scaled(2000);
      std::atomic<long> finished{0};
      std::vector<Signal> ping(kPairs), pong(kPairs);
      for (int i = 0; i < kPairs; ++i) {
        goro::go([&, i] {
          for (long t = 0; t < trips; ++t) {
            ping[static_cast<std::size_t>(i)].signal();
            pong[static_cast<std::size_t>(i)].wait();
          }
          ++finished;
        });
        goro::go([&, i] {
          for (long t = 0; t < trips; ++t) {
            ping[static_cast<std::size_t>(i)].wait();
            pong[static_cast<std::size_t>(i)].signal();
          }
          ++finished;
        });
      }
      wait_for(finished, 2 * kPairs);
    });
  });
}

TEST_CASE("idle Ps steal work") {
  each_procs({2u, 8u}, [](goro::Config c) {
    goro::run(c, [] {
      std::atomic<long> done{0};
      // Goroutines that compute without ever yielding: only stealing spreads them out. They go
      // on computing until a steal happened (or 20 s passed): another P's new worker thread may
      // need a while to get a CPU on a loaded machine.
      const auto give_up = std::chrono::steady_clock::now() + 20s;
      for (int i = 0; i < 64; ++i)
        goro::go([&] {
          spin_for(500us);
          while (goro::stats().steals == 0 && std::chrono::steady_clock::now() < give_up)
            spin_for(100us);
          ++done;
        });
      wait_for(done, 64);
      goro::Stats s = goro::stats();
      CHECK(s.steals > 0);
      CHECK(s.stolen >= s.steals);
      CHECK(s.threads > 1);
    });
  });
}

TEST_CASE("a runtime whose goroutines are all parked burns no CPU") {
  each_procs({2u, 8u}, [](goro::Config c) {
    goro::run(c, [] {
      for (int i = 0; i < 100; ++i) goro::go([] { park_forever(); });
      // Let the workers settle: starting them (slow under TSan, with 8 threads on 2 cores) must
      // not count. Wait for a quiet 100 ms — at most 5 s; a runtime that never goes quiet fails
      // the check below anyway.
      for (int i = 0; i < 50; ++i) {
        const long long start = cpu_time_ns();
        goro::blocking([] { std::this_thread::sleep_for(100ms); });
        if (cpu_time_ns() - start < 1'000'000) break;
      }
      const long long before = cpu_time_ns();
      goro::blocking([] { std::this_thread::sleep_for(1s); });
      const long long used = cpu_time_ns() - before;
      MESSAGE("CPU used over 1 s while idle: " << used / 1000 << " us");
      CHECK(used < 10'000'000);  // under 1% of one second
    });
  });
}

TEST_CASE("blocking() hands the P to another worker") {
  goro::Config c;
  c.procs = 1;
  goro::run(c, [] {
    const Yielder other;
    const std::atomic<long>& ticks = other.turns();
    goro::yield();
    const long before = ticks;
    // With one P, the other goroutine runs meanwhile only if the monitor retakes the P. How soon
    // the worker it hands the P to gets a CPU is up to the machine.
    goro::blocking([&] { eventually([&] { return ticks > before + 100; }); });
    CHECK(ticks > before + 100);
    CHECK(goro::stats().retakes > 0);
  });
}

TEST_CASE("blocking() from many goroutines at once, every P busy meanwhile") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      std::atomic<long> done{0};
      for (int i = 0; i < 32; ++i)
        goro::go([&, i] {
          for (int k = 0; k < 5; ++k) {
            int v = goro::blocking([i] {
              std::this_thread::sleep_for(200us);
              return i;
            });
            CHECK(v == i);
            goro::yield();
          }
          ++done;
        });
      wait_for(done, 32);
    });
  });
}

TEST_CASE("short blocking() calls keep their P") {
  goro::Config c;
  c.procs = 1;
  goro::run(c, [] {
    const auto before = goro::stats();
    for (int i = 0; i < 10000; ++i) CHECK(goro::blocking([i] { return i; }) == i);
    // Returning before the monitor's next look, each call took its P straight back. A few are
    // retaken when the OS preempts this thread inside a call (often under the sanitizers); a P
    // lost on every call would show ~10000.
    CHECK(goro::stats().retakes - before.retakes < 1000);
  });
}

TEST_CASE("a goroutine that never yields does not stop a 10 ms ticker at procs 1") {
  goro::Config c;
  c.procs = 1;
  goro::run(c, [] {
    goro::Ticker ticker(10ms);
    std::atomic<int> ticks{0};
    std::atomic<bool> stop{false};
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      while (!stop) {
        ticker.channel().recv();
        ++ticks;
      }
      wg.done();
    });
    goro::yield();  // the ticker goroutine parks on its channel
    // No scheduling point in this loop: goro cannot preempt it. The monitor hands the P on after
    // 10 ms; from then on every tick is served (5 ticks take ~60 ms on a quiet machine). Without
    // the hand-off there would be none: the spinner holds the only P. The 20 s limit is for a
    // machine so loaded that the ticker's new thread itself waits long for a CPU.
    const auto start = std::chrono::steady_clock::now();
    while (ticks < 5 && std::chrono::steady_clock::now() - start < 20s) {
    }
    const int seen = ticks;
    const auto spun = std::chrono::steady_clock::now() - start;
    MESSAGE("ms spun until 5 ticks were served at procs 1: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(spun).count());
    CHECK(seen >= 5);
    const goro::Stats s = goro::stats();
    CHECK(s.preempt_handoffs >= 1);
    stop = true;
    wg.wait();
  });
}

TEST_CASE("a plain blocking call outside blocking() loses its P to waiting work, as a computation does") {
  goro::Config c;
  c.procs = 1;
  goro::run(c, [] {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    goro::chan<ssize_t> done(1);
    goro::go([&, done] {
      char byte = 0;
      done.send(::read(fds[0], &byte, 1));  // blocks the thread on the only P, not in blocking()
    });
    goro::yield();  // the reader runs and blocks in read(); main waits on the P's queue
    // main runs only because the monitor handed the P on after 10 ms: the read returns when main
    // has written, so if the P stayed stalled until the call returned, this would never finish.
    REQUIRE(::write(fds[1], "x", 1) == 1);
    CHECK(done.recv() == 1);
    CHECK(goro::stats().preempt_handoffs >= 1);
    ::close(fds[0]);
    ::close(fds[1]);
  });
}

// A read that fails inside blocking() and the errno after it, in a frame of its own: the README's
// rule is for a function that does not touch errno before the call (in a loop, the compiler may
// keep errno's address from one iteration to the next).
[[gnu::noinline]] int errno_of_failed_read(const std::atomic<long>& spins) {
  const ssize_t n = goro::blocking([&] {
    // Until the monitor has handed the P to the yielding goroutine, on another thread: this
    // goroutine then comes back on that thread, where it finds the P.
    const long at = spins;
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    while (spins == at && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(100us);
    char byte;
    return ::read(-1, &byte, 1);
  });
  return n == -1 ? errno : 0;
}

TEST_CASE("errno set inside blocking() is what the goroutine reads after it, on whatever thread") {
  goro::Config c;
  c.procs = 1;
  goro::run(c, [] {
    const Yielder other([] { errno = 0; });  // on whichever thread runs it
    goro::yield();
    const auto before = goro::stats();
    int lost = 0;
    for (int i = 0; i < 20; ++i) lost += errno_of_failed_read(other.turns()) != EBADF;
    CHECK(lost == 0);
    CHECK(goro::stats().retakes >= before.retakes + 20);  // every call lost its P
  });
}

TEST_CASE("blocking() calls are handed off promptly after the monitor has backed off") {
  goro::Config c;
  c.procs = 1;
  goro::run(c, [] {
    const Yielder other;
    const std::atomic<long>& spins = other.turns();
    // The monitor finds nothing to do meanwhile and backs off to its longest delay (~20 ms in).
    goro::sleep_for(200ms);
    const auto before = goro::stats();
    int starved = 0;
    constexpr int kCalls = 100;
    for (int i = 0; i < kCalls; ++i) {
      const long at = spins;
      goro::blocking([] { std::this_thread::sleep_for(3ms); });
      starved += spins == at;
    }
    // The monitor hands the P on a tick or two into each call; the spinner then runs on another
    // thread for the rest of its 3 ms. Without the wake-up every call is over before the backed-off
    // monitor takes a second look: all 100 starve, none is retaken. Unloaded, none starves; the
    // bounds leave a loaded machine (sanitizers, suites in parallel) plenty of slack.
    MESSAGE("calls during which the other goroutine never ran: " << starved << " of " << kCalls);
    CHECK(starved < kCalls * 9 / 10);
    CHECK(goro::stats().retakes - before.retakes >= kCalls / 10);
  });
}

TEST_CASE("blocking() right after the monitor took the goroutine's P is a blocking call") {
  goro::Config c;
  c.procs = 1;
  goro::run(c, [] {
    goro::chan<int> ch;
    std::atomic<bool> in_f{false};
    goro::go([&] {
      eventually([&] { return in_f.load(); });
      goro::sleep_for(5ms);  // let f block in its receive first (if it has not, nothing is proven)
      ch.send(1);
    });
    goro::go([] {});  // waits on the only P: the monitor hands the P on after 10 ms
    // No scheduling point until the monitor has taken the P.
    const auto handoffs = goro::rt::sched.preempt_handoffs.load();
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    while (goro::rt::sched.preempt_handoffs.load() == handoffs && std::chrono::steady_clock::now() < give_up) {
    }
    REQUIRE(goro::rt::sched.preempt_handoffs.load() > handoffs);
    unsigned counted = 0;
    pid_t tid_before = 0, tid_after = 0;
    goro::blocking([&] {
      counted = goro::stats().blocking_calls;
      tid_before = ::gettid();
      in_f = true;
      ch.recv();  // blocks this thread, as on a plain thread; does not park the goroutine
      tid_after = ::gettid();
    });
    CHECK(counted == 1);
    CHECK(tid_before == tid_after);
    CHECK(goro::stats().blocking_calls == 0);
  });
}

TEST_CASE("a take the monitor began before the goroutine entered blocking() is withdrawn, not counted") {
  static std::atomic<bool> queued_ran;
  queued_ran = false;
  struct Release {  // the monitor's later takes, held from stage 1 on (even if a check throws)
    ~Release() {
      take_pause.checked = true;
      hold_takes_until = nullptr;
    }
  } release;
  goro::Config c;
  c.procs = 1;
  goro::run(c, [] {
    goro::go([] { queued_ran = true; });  // waits on the only P: the monitor moves to take it
    take_pause.armed = true;
    // No scheduling point until the monitor has chosen this goroutine's P (and paused there).
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    while (take_pause.stage != 0 && std::chrono::steady_clock::now() < give_up) {
    }
    REQUIRE(take_pause.stage == 0);
    const auto before = goro::stats();
    // The call releases the P before the monitor announces the take; f's channel calls then
    // see the announcement, which is stale: this M holds no P.
    goro::blocking([] {
      take_pause.resume = true;
      goro::chan<int> ch(1);
      const auto until = std::chrono::steady_clock::now() + 20s;
      while (take_pause.stage != 1 && std::chrono::steady_clock::now() < until) {
        int v = 0;
        ch.try_send(v);
        ch.try_recv();
        ++take_pause.calls;
      }
      // The P, retaken from this call, runs the waiting goroutine: nothing is left waiting for
      // the monitor to take this goroutine's P for once the call is over.
      eventually([] { return queued_ran.load(); });
    });
    REQUIRE(take_pause.stage == 1);
    REQUIRE(queued_ran);
    // Nothing was taken from a running goroutine, so none runs on without a P. A count left at 1
    // would keep deadlock detection from ever seeing every goroutine asleep.
    CHECK(goro::rt::sched.nunowned.load() == 0);
    CHECK(goro::stats().preempt_handoffs == before.preempt_handoffs);
  });
}

TEST_CASE("a goroutine queued globally while the monitor hands a P to the idle list is run") {
  static std::atomic<bool> ran;  // the monitor may look at it after main has returned
  ran = false;
  goro::Config c;
  c.procs = 2;
  goro::run(c, [] {
    handoff_pause.armed = true;
    // P1 is idle: the monitor retakes P0 from this call after 10 ms and, finding nothing to run,
    // puts it in the idle list (paused just before).
    goro::blocking([] {
      eventually([] { return handoff_pause.reached.load(); });
    });
    REQUIRE(handoff_pause.reached);
    // Back from the call, this goroutine took the idle P1 (P0 was in neither list). A plain
    // thread queues a goroutine now: it finds no P idle and wakes nobody.
    std::thread([] { goro::go([] { ran = true; }); }).join();
    // From here, only an idle P can run it: this goroutine keeps P1 without a scheduling point,
    // and the monitor is kept from taking P1 away while it waits.
    hold_takes_until = &ran;
    handoff_pause.resume = true;
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    while (!ran && std::chrono::steady_clock::now() < give_up) {
    }
    hold_takes_until = nullptr;
    CHECK(ran);
  });
}

TEST_CASE("a goroutine that enters blocking() after main returned is abandoned there") {
  goro::Config c;
  c.procs = 2;
  std::atomic<bool> started{false}, f_ran{false}, after{false};
  goro::run(c, [&] {
    goro::go([&] {
      started = true;
      // No scheduling point: this goroutine keeps its worker until it reaches blocking().
      while (!goro::rt::sched.stopping.load()) {
      }
      goro::blocking([&] {
        f_ran = true;
        std::this_thread::sleep_for(1s);
      });
      after = true;
    });
    eventually([&] { return started.load(); });
  });
  CHECK(!f_ran);
  CHECK(!after);
}

TEST_CASE("blocking() on a plain thread just calls f") {
  CHECK(goro::blocking([] { return 7; }) == 7);
}

TEST_CASE("run returns with goroutines still parked, and again right after") {
  each_procs([](goro::Config c) {
    auto token = std::make_shared<int>(0);
    const auto start = std::chrono::steady_clock::now();
    goro::run(c, [&] {
      std::atomic<long> parked{0};
      for (int i = 0; i < 1000; ++i)
        goro::go([&parked] {
          ++parked;
          park_forever();
        });
      wait_for(parked, 1000);
      // Spawned but never started: their functions are destroyed when run() ends.
      for (int i = 0; i < 1000; ++i) goro::go([token] { park_forever(); });
    });
    CHECK(std::chrono::steady_clock::now() - start < 20s);  // returns, rather than waiting for them
    CHECK(token.use_count() <= 1 + 1000);
    goro::run(c, [&] {
      CHECK(goro::num_goroutines() == 1);
      std::atomic<long> ran{0};
      for (int i = 0; i < 100; ++i) goro::go([&] { ++ran; });
      wait_for(ran, 100);
    });
  });
  // With one P the spawned-last goroutines cannot have started before main returned.
  auto token = std::make_shared<int>(0);
  goro::Config one;
  one.procs = 1;
  goro::run(one, [&] {
    for (int i = 0; i < 1000; ++i) goro::go([token] {});
  });
  CHECK(token.use_count() == 1);
}

TEST_CASE("a million spawned goroutines that have not run own no stacks") {
  goro::Config c;
  c.procs = 1;
  goro::run(c, [] {
    const long n = scaled(1'000'000);
    for (long i = 0; i < n; ++i) goro::go([] {});
    // Nothing has run yet on the single P: only main has a stack.
    CHECK(goro::rt::sched.stacks.carved() <= 16);
  });
}
