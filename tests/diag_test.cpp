// tests/diag_test.cpp — deadlock detection, dump, stats, the scheduler trace, configuration.
#include "support.hpp"

#include <goro/chan.hpp>
#include <goro/context.hpp>
#include <goro/net.hpp>
#include <goro/sync.hpp>

#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

using namespace goro_test;
using namespace std::chrono_literals;

TEST_CASE("all goroutines asleep is a deadlock, with a report") {
  each_procs([](goro::Config c) {
    std::string report = deadlock_report(c, [] {
      goro::go([] { park_forever(); });
      goro::go([] { park_forever(); });
      park_forever();
    });
    INFO(report);
    CHECK(starts_with(report, "all goroutines are asleep - deadlock!"));
    CHECK(contains(report, "Look for the channel, lock or WaitGroup"));  // what to do
    CHECK(contains(report, "goroutine 1 [test wait, "));
    CHECK(contains(report, "goroutine 2 [test wait, "));
    CHECK(contains(report, "goroutine 3 [test wait, "));
    CHECK(contains(report, "created at goro::run (the main goroutine)"));
    CHECK(contains(report, "diag_test.cpp:"));  // where goroutines 2 and 3 were spawned
  });
}

TEST_CASE("no deadlock while a goroutine is inside blocking()") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::go([] { park_forever(); });
      goro::blocking([] { std::this_thread::sleep_for(50ms); });
    });
  });
}

TEST_CASE("no deadlock while a plain thread that uses goro can still wake a goroutine") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      Signal wake;
      std::atomic<bool> registered{false};
      std::thread helper([&] {
        goro::go([] {});  // this thread uses goro: it counts as a possible waker from now on
        registered = true;
        std::this_thread::sleep_for(300ms);  // longer than the detector's grace period
        wake.signal();
      });
      while (!registered) goro::yield();
      wake.wait();
      helper.join();
    });
  });
}

// Called by main: a plain thread makes `first_call`, its first goro call, then, after the
// detector's grace period, sends what main waits for. No deadlock may be reported meanwhile.
template <class F>
void plain_thread_wakes_main_later(F first_call) {
  goro::chan<int> result;
  std::atomic<bool> called{false};
  std::thread worker([&] {
    first_call();
    called = true;
    std::this_thread::sleep_for(300ms);  // longer than the detector's grace period
    result.send(42);
  });
  while (!called) goro::yield();
  CHECK(*result.recv() == 42);
  goro::blocking([&] { worker.join(); });
}

// Any goro call registers a plain thread, even one that returns at once without a lock (a
// failing try_recv or try_send, a sleep): the thread may act on the result later. (Before the
// commit that added this test, those fast paths did not, and the detector reported a deadlock
// while such a thread computed the value a goroutine waited for.)
TEST_CASE("a plain thread whose first goro call is a failing try_recv, try_send or a sleep can wake a goroutine") {
  goro::Config c;
  c.procs = 2;
  for (int first_call = 0; first_call < 3; ++first_call) {
    goro::run(c, [first_call] {
      goro::chan<int> quit, full(1);
      full.send(0);
      plain_thread_wakes_main_later([&] {
        if (first_call == 0) CHECK(!quit.try_recv());
        int one = 1;
        if (first_call == 1) CHECK(!full.try_send(one));
        if (first_call == 2) goro::sleep_for(1ms);
      });
    });
  }
}

// The same for the calls that return at once without touching a channel's lock or a timer heap:
// a try on a nil channel, a sleep of no time, yield(), a timer nobody keeps (it is freed at
// once, so no pending timer keeps the detector away) and a socket, closed at once. (Before the
// commit that added this test, none of them registered the thread, and the detector reported a
// deadlock.)
TEST_CASE("a plain thread whose first goro call is a nil try, a zero sleep, yield, a timer or a socket can wake a goroutine") {
  goro::Config c;
  c.procs = 2;
  for (int first_call = 0; first_call < 7; ++first_call) {
    CAPTURE(first_call);
    goro::run(c, [first_call] {
      plain_thread_wakes_main_later([first_call] {
        const auto nil = goro::chan<int>::nil();
        int one = 1;
        if (first_call == 0) CHECK(!nil.try_recv());
        if (first_call == 1) CHECK(!nil.try_send(one));
        if (first_call == 2) goro::sleep_for(0ns);
        if (first_call == 3) goro::sleep_until(std::chrono::steady_clock::now() - 1s);
        if (first_call == 4) goro::yield();
        if (first_call == 5) (void)goro::after(1h);
        if (first_call == 6) goro::net::listen("127.0.0.1:0").close();
      });
    });
  }
}

// A plain thread that makes a cancellable context will cancel it later: from then on it is a
// possible waker of whoever waits on done(). (Before the commit that added this test,
// with_cancel did not register the thread, and the detector reported a deadlock while it
// waited to cancel.)
TEST_CASE("a plain thread whose first goro call is with_cancel can wake a goroutine") {
  goro::Config c;
  c.procs = 2;
  goro::run(c, [] {
    std::optional<goro::Context> ctx;
    std::atomic<bool> made{false};
    std::thread canceller([&] {
      auto [child, cancel] = goro::with_cancel(goro::background());
      ctx = child;
      made = true;
      std::this_thread::sleep_for(300ms);  // longer than the detector's grace period
      cancel();
    });
    while (!made) goro::yield();
    ctx->done().recv();
    CHECK(ctx->err() == goro::errc::canceled);
    goro::blocking([&] { canceller.join(); });
  });
}

// A plain thread blocked in a goro call since before run() started, and woken by the run, can
// then wake a goroutine: it is using goro in this run. (Before the commit that added this test,
// only calls made during the run registered a thread, and the detector reported a deadlock while
// the woken thread worked on the reply main waited for.)
TEST_CASE("a plain thread blocked in a goro call since before run can wake a goroutine once woken") {
  goro::chan<int> request;
  goro::chan<int> reply(1);  // buffered: the thread finishes even if run() has failed
  std::atomic<bool> started{false};
  std::thread server([&] {
    started = true;
    const int v = *request.recv();  // blocks before run() starts (most likely: see below)
    std::this_thread::sleep_for(300ms);  // longer than the detector's grace period
    reply.send(v + 1);
  });
  while (!started) std::this_thread::yield();
  std::this_thread::sleep_for(20ms);  // so that recv has blocked (else this tests nothing)
  goro::Config c;
  c.procs = 2;
  int answer = 0;
  CHECK_NOTHROW(answer = goro::run(c, [&] {
    request.send(41);
    return *reply.recv();
  }));
  server.join();
  CHECK(answer == 42);
}

// Runs each child; each must catch the deadlock_error its run() throws and exit 0. The children
// set a 20 s alarm: the bugs these tests guard against are hangs.
static void check_deadlock_reported(std::initializer_list<const char*> children) {
  for (const char* child : children) {
    CAPTURE(child);
    CHECK_CHILD_SUCCEEDS(child);  // SIGALRM: run() hung instead of reporting the deadlock
  }
}

// A child's body: runs `main` at procs 1 under a 20 s watchdog; 0 if run() reported a deadlock.
template <class F>
static int deadlock_reported_at_procs_1(F main) {
  ::alarm(20);
  goro::Config c;
  c.procs = 1;
  try {
    goro::run(c, main);
  } catch (const goro::deadlock_error&) {
    return 0;
  }
  return 1;
}

// A goroutine that used goro inside blocking() (where its thread acts as a plain one) must not
// leave its worker thread counted as a plain thread that can wake goroutines: that would turn
// deadlock detection off for the rest of the run. Children, with a watchdog: the bug is a hang.
static int deadlock_after_blocking(void (*inside)()) {
  return deadlock_reported_at_procs_1([inside] {
    goro::blocking(inside);
    goro::chan<int>().recv();  // nobody will ever send
  });
}
GORO_CHILD("deadlock after go inside blocking") {
  return deadlock_after_blocking([] { goro::go([] {}); });
}
GORO_CHILD("deadlock after a channel operation inside blocking") {
  return deadlock_after_blocking([] {
    goro::chan<int> ch(1);
    ch.send(1);
  });
}

TEST_CASE("a deadlock is still detected after goro calls inside blocking()") {
  check_deadlock_reported({"deadlock after go inside blocking",
                           "deadlock after a channel operation inside blocking"});
}

// Whether goro::dump shows goroutine 1 (main) parked with wait reason `reason`.
static bool main_parked(const std::string& reason) {
  std::ostringstream out;
  goro::dump(out);
  return contains(out.str(), "goroutine 1 [" + reason + ", ");
}

// A plain thread counts as a possible waker only until it exits. Main parks while the thread is
// alive — the worker's look finds a waker and gives up — and then the thread exits, the last
// party that could have woken main: no worker parks after that, yet the deadlock must be seen.
GORO_CHILD("deadlock once the last plain thread exits") {
  ::alarm(20);
  for (unsigned procs : {1u, 2u}) {
    goro::Config c;
    c.procs = procs;
    std::thread sender;
    try {
      goro::run(c, [&sender] {
        goro::chan<int> ch;
        sender = std::thread([ch]() mutable {
          ch.send(1);  // registers this thread as a possible waker
          while (!main_parked("chan receive")) std::this_thread::sleep_for(1ms);
          std::this_thread::sleep_for(20ms);  // let main's worker look and park first
        });
        ch.recv();
        ch.recv();  // nobody will ever send
      });
    } catch (const goro::deadlock_error&) {
      sender.join();
      continue;
    }
    sender.join();
    return 1;
  }
  return 0;
}

TEST_CASE("a deadlock is detected when the last plain thread that could wake a goroutine exits") {
  check_deadlock_reported({"deadlock once the last plain thread exits"});
}

// A goroutine that runs without a scheduling point while main waits on its P loses the P to the
// monitor; main blocks on it, and main's worker, seeing that goroutine still awake, gives up on
// a deadlock. Then the goroutine blocks or ends without a P: it is the last one awake, and its
// worker must look again. Children, with a watchdog: the bug is a hang.
static int deadlock_after_losing_p(void (*then)()) {
  return deadlock_reported_at_procs_1([then] {
    goro::go([then] {
      // Until main has run on the P taken from us, blocked, and its worker has let the P go
      // (stats() is no scheduling point).
      while (goro::stats().idle_procs == 0) spin_for(1ms);
      then();
    });
    goro::yield();             // the goroutine runs; main waits on the P for it
    goro::chan<int>().recv();  // nobody will ever send
  });
}
GORO_CHILD("deadlock after a goroutine that lost its P blocks") {
  return deadlock_after_losing_p([] { goro::chan<int>().recv(); });
}
GORO_CHILD("deadlock after a goroutine that lost its P exits") {
  return deadlock_after_losing_p([] {});
}

TEST_CASE("a deadlock is detected when the last goroutine awake had lost its P") {
  check_deadlock_reported({"deadlock after a goroutine that lost its P blocks",
                           "deadlock after a goroutine that lost its P exits"});
}

TEST_CASE("detect_deadlock = false leaves waiting goroutines alone") {
  goro::Config c;
  c.detect_deadlock = false;
  goro::run(c, [] {
    Signal wake;
    std::thread helper([&] {  // never announced to goro: only safe without detection
      std::this_thread::sleep_for(50ms);
      wake.signal();
    });
    wake.wait();
    helper.join();
  });
}

TEST_CASE("dump lists every goroutine with state, wait reason, time waited and spawn site") {
  goro::Config c;
  c.procs = 1;
  goro::run(c, [] {
    const int spawn_line = __LINE__ + 1;  // the site of the `go` call, in this lambda inlined into run
    goro::go([] { park_forever(); });  // goroutine 2: parked
    goro::yield();
    goro::blocking([] { std::this_thread::sleep_for(20ms); });
    goro::go([] {});                   // goroutine 3: spawned, not yet run
    std::ostringstream out;
    goro::dump(out);
    const std::string text = out.str();
    CHECK_MESSAGE(contains(text, "goroutine 1 [running]:\n    created at goro::run (the main goroutine)"), text);
    CHECK_MESSAGE(contains(text, "goroutine 2 [test wait, "), text);
    CHECK_MESSAGE(contains(text, "ms]:\n    created at "), text);
    CHECK_MESSAGE(contains(text, "goroutine 3 [runnable]:"), text);
    CHECK_MESSAGE(contains(text, "diag_test.cpp:" + std::to_string(spawn_line) + " in "), text);
    // A plain thread may dump too.
    std::thread([] {
      std::ostringstream o;
      goro::dump(o);
      CHECK(contains(o.str(), "goroutine 1 [running]"));
    }).join();
  });
  std::ostringstream none;
  goro::dump(none);
  CHECK(contains(none.str(), "no runtime is running"));
}

// dump runs while goroutines park and wake: a goroutine it sees waiting must show why, even if
// it is readied between the dump's reads of its state and of its wait reason. (Before the commit
// that added this test, ready() cleared the reason, and such a dump showed "goroutine 5 [, 0ms]".)
TEST_CASE("a dump taken while goroutines park and wake shows a wait reason for every waiting one") {
  goro::Config c;
  c.procs = 2;
  goro::run(c, [] {
    std::atomic<bool> stop{false};
    goro::WaitGroup pairs;
    for (int i = 0; i < 4; ++i) {  // ping-pong pairs: park and wake without pause
      goro::chan<int> ping, pong;
      pairs.add(2);
      goro::go([=, &stop, &pairs]() mutable {
        while (!stop.load()) {
          ping.send(1);
          pong.recv();
        }
        ping.close();
        pairs.done();
      });
      goro::go([=, &pairs]() mutable {
        while (ping.recv()) pong.send(1);
        pairs.done();
      });
    }
    long blank = 0;
    std::string example;
    std::thread dumper([&] {  // a plain thread: it dumps while both Ps run the pairs
      for (long i = 0; i < scaled(4000); ++i) {
        std::ostringstream out;
        goro::dump(out);
        if (contains(out.str(), "[, ")) {
          ++blank;
          example = out.str();
        }
      }
      stop = true;
    });
    goro::blocking([&] { dumper.join(); });
    pairs.wait();
    CHECK_MESSAGE(blank == 0, example);
  });
}

// A `go` call in tail position: the optimizer may turn the call into a jump, and a return address
// taken inside go() would then name the caller's caller.
void parked_goroutine() { park_forever(); }
const int tail_spawn_line = __LINE__ + 2;
[[gnu::noinline]] void spawn_in_tail_position() {
  goro::go(parked_goroutine);
}

TEST_CASE("dump names the line of a go call in tail position") {
  goro::run([] {
    spawn_in_tail_position();
    goro::yield();
    std::ostringstream out;
    goro::dump(out);
    const std::string site = "diag_test.cpp:" + std::to_string(tail_spawn_line) + " in spawn_in_tail_position";
    CHECK_MESSAGE(contains(out.str(), site), out.str());
  });
}

TEST_CASE("stats") {
  each_procs([](goro::Config c) {
    goro::run(c, [c] {
      std::atomic<long> done{0};
      for (int i = 0; i < 500; ++i)
        goro::go([&] {
          goro::yield();
          ++done;
        });
      while (done != 500) goro::yield();
      goro::Stats s = goro::stats();
      CHECK(s.procs == c.procs);
      CHECK(s.run_queues.size() == c.procs);
      CHECK(s.spawned == 501);
      CHECK(s.goroutines >= 1);
      CHECK(s.context_switches >= 500);
      CHECK(s.threads >= 1);
      CHECK(s.idle_procs < c.procs);

      // Bursts of work between idle spells: idle workers go to sleep (on their futex, or one in
      // epoll_wait until the sleeper's timer) and are woken for the next burst.
      for (int burst = 0; burst < 20; ++burst) {
        for (int i = 0; i < 8; ++i) goro::go([] { goro::yield(); });
        goro::sleep_for(2ms);
      }
      goro::Stats later = goro::stats();
      CHECK(later.worker_parks >= s.worker_parks + 10);  // (a loaded machine may miss a few)
      CHECK(later.worker_unparks >= s.worker_unparks + 10);
    });
  });
  CHECK(goro::stats().procs == 0);
}

GORO_CHILD("schedtrace") {
  goro::Config c;
  c.procs = 2;
  goro::run(c, [] { goro::blocking([] { std::this_thread::sleep_for(60ms); }); });
  return 0;
}

TEST_CASE("GORO_SCHEDTRACE prints a scheduler line every interval") {
  ChildResult r = run_child("schedtrace", {"GORO_SCHEDTRACE=10"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.err, "SCHED "));
  CHECK(contains(r.err, "procs=2 idleprocs="));
  CHECK(contains(r.err, "goroutines=1"));
}

TEST_CASE("GORO_SCHEDTRACE=0 is off, as Go's schedtrace=0") {
  ChildResult r = run_child("schedtrace", {"GORO_SCHEDTRACE=0"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_FALSE(contains(r.err, "SCHED "));
}

TEST_CASE("bad GORO_* values fail run with a message naming the variable and the value") {
  struct Case {
    const char* name;
    const char* value;
  };
  for (Case bad : {Case{"GORO_PROCS", "abc"}, Case{"GORO_PROCS", "0"}, Case{"GORO_PROCS", "-3"},
                   Case{"GORO_STACK", "12q"}, Case{"GORO_STACK", "1"}, Case{"GORO_PIN", "yes"},
                   Case{"GORO_SCHEDTRACE", "x"}}) {
    CAPTURE(bad.name);
    CAPTURE(bad.value);
    ScopedEnv env(bad.name, bad.value);
    try {
      goro::run([] {});
      FAIL("run accepted a bad value");
    } catch (const std::invalid_argument& e) {
      CHECK(contains(e.what(), bad.name));
      CHECK(contains(e.what(), std::string("\"") + bad.value + "\""));
    }
  }
  goro::Config too_many;
  too_many.procs = 5000;
  CHECK_THROWS_AS(goro::run(too_many, [] {}), std::invalid_argument);
  goro::Config tiny_stack;
  tiny_stack.stack_size = 100;
  CHECK_THROWS_AS(goro::run(tiny_stack, [] {}), std::invalid_argument);
}

TEST_CASE("GORO_PROCS sets the number of Ps") {
  ScopedEnv env("GORO_PROCS", "3");
  CHECK(goro::run([] { return goro::procs(); }) == 3);
}

// A script's `GORO_PROCS=$N` with N unset: the default, as an empty GOMAXPROCS is in Go.
TEST_CASE("an empty GORO_* variable means its default") {
  const unsigned procs = goro::run([] { return goro::procs(); });
  for (const char* name : {"GORO_PROCS", "GORO_STACK", "GORO_PIN", "GORO_SCHEDTRACE"}) {
    CAPTURE(name);
    ScopedEnv env(name, "");
    CHECK(goro::run([] { return goro::procs(); }) == procs);
  }
}

TEST_CASE("pinning binds each worker to one core, and run restores the caller's affinity") {
  cpu_set_t before;
  REQUIRE(sched_getaffinity(0, sizeof before, &before) == 0);
  goro::Config c;
  c.pin = true;
  c.procs = 2;
  goro::run(c, [] {
    std::atomic<long> done{0};
    for (int i = 0; i < 8; ++i)
      goro::go([&] {
        cpu_set_t mine;
        sched_getaffinity(0, sizeof mine, &mine);
        CHECK(CPU_COUNT(&mine) >= 1);
        CHECK(CPU_COUNT(&mine) <= 2);  // the PUs of one core (SMT siblings at most)
        ++done;
      });
    while (done != 8) goro::yield();
  });
  cpu_set_t after;
  REQUIRE(sched_getaffinity(0, sizeof after, &after) == 0);
  CHECK(CPU_EQUAL(&before, &after));
}
