// tests/stack_test.cpp — goroutine stacks: deep use, reuse, and overflow.
#include "support.hpp"

#include "sched/park.hpp"
#include "sched/sched.hpp"

#include <goro/chan.hpp>
#include <goro/sync.hpp>
#include <goro/time.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

using namespace goro_test;

namespace {

// Recurses until `budget` bytes of stack below `top` are in use; returns the depth reached.
[[gnu::noinline]] int recurse_until(const char* top, std::size_t budget, int depth) {
  volatile char frame[512];
  std::memset(const_cast<char*>(frame), depth & 0xff, sizeof frame);
  if (static_cast<std::size_t>(top - const_cast<const char*>(frame)) >= budget) return depth;
  int deeper = recurse_until(top, budget, depth + 1);
  return deeper + (frame[depth % sizeof frame] == static_cast<char>(depth & 0xff) ? 0 : 1000000);
}

volatile bool keep_going = true;

[[gnu::noinline]] int overflow(int depth) {
  volatile char frame[1024];
  frame[0] = static_cast<char>(depth);
  return (keep_going ? overflow(depth + 1) : 0) + frame[0];
}

}  // namespace

TEST_CASE("a goroutine can use nearly all of its stack") {
  for (std::size_t size : {std::size_t{256} << 10, std::size_t{1} << 20}) {
    CAPTURE(size);
    goro::Config c;
    c.stack_size = size;
    c.procs = 2;
    goro::run(c, [size] {
      std::atomic<long> done{0};
      for (int i = 0; i < 4; ++i)
        goro::go([&, size] {
          char top = 0;
          // 85%: what is left covers the frames above us and the sanitizers' redzones.
          int depth = recurse_until(&top, size * 85 / 100, 0);
          CHECK(depth > 0);
          CHECK(depth < 1000000);  // every frame kept its contents
          ++done;
        });
      while (done != 4) goro::yield();
    });
  }
}

TEST_CASE("stacks are reused") {
  goro::run([] {
    std::set<std::uintptr_t> seen;
    for (int i = 0; i < 10000; ++i) {
      std::atomic<std::uintptr_t> where{0};
      goro::go([&where] {
        char local;
        where = reinterpret_cast<std::uintptr_t>(&local) >> 12;  // its page
      });
      while (!where) goro::yield();
      seen.insert(where);
    }
    CHECK(seen.size() < 100);
    CHECK(goro::rt::sched.stacks.carved() < 100);
  });
}

TEST_CASE("a P takes back the stacks it gave before another P's, and another P's before new ones") {
  using goro::rt::Stack;
  goro::rt::StackPool pool;  // not the runtime's: its stacks are never run
  pool.start(64 * 1024, [](boost::context::detail::transfer_t) {}, 2);
  constexpr std::size_t k = goro::rt::StackCache::kCapacity / 2;
  Stack *mine[k], *theirs[k], *got[k];
  REQUIRE(pool.take(0, mine, k) == k);
  REQUIRE(pool.take(1, theirs, k) == k);
  CHECK(pool.carved() == 2 * k);
  pool.give(1, theirs, k);
  pool.give(0, mine, k);  // the most recently given: any P taking from one list would get these

  REQUIRE(pool.take(1, got, k) == k);
  CHECK(std::set<Stack*>(got, got + k) == std::set<Stack*>(theirs, theirs + k));
  REQUIRE(pool.take(1, got, k) == k);  // its own list is empty: P0's, not new ones
  CHECK(std::set<Stack*>(got, got + k) == std::set<Stack*>(mine, mine + k));
  CHECK(pool.carved() == 2 * k);
  CHECK(pool.warm() == 0);

  pool.give(goro::rt::StackPool::kNoHome, got, k);  // a goroutine that exited without a P
  pool.give(1, theirs, k);
  CHECK(pool.warm() == 2 * k);
  CHECK(pool.trim(k / 2) == 2 * k - k / 2);  // from whichever lists hold them
  CHECK(pool.warm() == k / 2);
  REQUIRE(pool.take(0, got, k) == k);  // k / 2 warm ones, then the trimmed ones back
  CHECK(pool.carved() == 2 * k);
  pool.stop();
}

namespace {

// Starts n goroutines that each use `depth` bytes of their stacks, call seen(i, top of the stack)
// there, and wait until `gate` is closed: all alive at once, n different stacks. Returns once
// they all got there; `finished` counts them out.
template <class Seen>
void go_deep_and_wait(int n, std::size_t depth, goro::chan<int> gate, goro::WaitGroup& finished, Seen seen) {
  goro::WaitGroup started;
  started.add(n);
  finished.add(n);
  for (int i = 0; i < n; ++i)
    goro::go([&, gate, i] {
      char top = 0;
      recurse_until(&top, depth, 0);
      seen(i, &top);
      started.done();
      gate.recv();
      finished.done();
    });
  started.wait();
}

// Whether the page holding `addr` is in memory (mincore).
bool resident(const void* addr) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  unsigned char in = 0;
  REQUIRE(::mincore(reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(addr) / page * page),
                    page, &in) == 0);
  return in & 1;
}

// Whether `addr` is a guard: write(2) from it fails with EFAULT rather than raising SIGSEGV.
bool unreadable(const void* addr) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const ssize_t n = ::write(fds[1], addr, 1);
  const int err = errno;
  ::close(fds[0]);
  ::close(fds[1]);
  return n < 0 && err == EFAULT;
}

}  // namespace

TEST_CASE("after a burst, an idle runtime returns the excess stacks, which keep their guards") {
  using namespace std::chrono_literals;
  goro::Config c;
  c.procs = 2;
  goro::run(c, [] {
    constexpr int n = 3000;  // well over the 1024 free stacks the runtime keeps committed
    struct Seen {
      const char* deep;   // a page 24 KiB down the stack, touched
      const char* guard;  // the last byte of the guard below the stack
    };
    std::vector<Seen> seen(n);
    goro::chan<int> gate;
    goro::WaitGroup started, finished;
    go_deep_and_wait(n, 24 * 1024, gate, finished, [&](int i, const char* top) {
      const goro::rt::Stack* s = goro::rt::current_g()->stack;
      seen[static_cast<std::size_t>(i)] = {top - 24 * 1024, s->lo - 1};
    });
    const std::size_t carved = goro::rt::sched.stacks.carved();
    CHECK(carved >= n);
    gate.close();
    finished.wait();

    // Once every one has exited (given its stack back), the runtime is idle but for main's
    // sleeps, and the monitor trims the free stacks down to the ones it keeps: the warm list
    // at most (the P caches hold a few more). The trim runs on the monitor's thread: poll, with
    // sleeps longer than the idle time after which the monitor trims (monitor.cpp).
    const int keep = 1024 + 2 * static_cast<int>(goro::rt::StackCache::kCapacity);
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    while (goro::num_goroutines() > 1 && std::chrono::steady_clock::now() < give_up)
      goro::sleep_for(1ms);
    do goro::sleep_for(60ms);
    while (goro::rt::sched.stacks.cold() < n - keep && std::chrono::steady_clock::now() < give_up);
    REQUIRE(goro::rt::sched.stacks.cold() >= n - keep);
    CHECK(goro::rt::sched.stacks.warm() <= 1024);
    int released = 0;
    for (const Seen& x : seen) released += !resident(x.deep);
    CHECK(released >= n - keep);
    for (const Seen& x : seen) {
      CHECK(unreadable(x.guard));
      CHECK(!unreadable(x.guard + 1));  // the stack's own lowest byte: plain reserved memory
    }

    // The released stacks come back before any new one is set up, and work as before.
    started.add(n);
    finished.add(n);
    std::atomic<long> deep_ok{0};
    for (int i = 0; i < n; ++i)
      goro::go([&] {
        char top = 0;
        deep_ok += recurse_until(&top, 24 * 1024, 0) < 1000000;
        started.done();
        gate.recv();  // closed: returns at once
        finished.done();
      });
    finished.wait();
    CHECK(deep_ok == n);
    CHECK(goro::rt::sched.stacks.carved() == carved);
  });
}

TEST_CASE("an idle runtime gives back the pages deep goroutines left in the stacks it keeps") {
  using namespace std::chrono_literals;
  goro::Config c;
  c.procs = 2;
  goro::run(c, [] {
    constexpr int n = 300;  // fewer than the 1024 free stacks kept: none is trimmed
    std::vector<const char*> deep(n);  // a page 128 KiB down each stack, touched
    goro::chan<int> gate;
    goro::WaitGroup finished;
    go_deep_and_wait(n, 128 * 1024, gate, finished, [&](int i, const char* top) {
      deep[static_cast<std::size_t>(i)] = top - 128 * 1024 + 512;
    });
    for (const char* d : deep) REQUIRE(resident(d));
    gate.close();
    finished.wait();
    // Idle but for main's sleeps, the monitor shrinks the warm stacks (the Ps' caches keep
    // theirs: at most 2 * kCapacity). It runs on the monitor's thread: poll.
    const int cached = 2 * static_cast<int>(goro::rt::StackCache::kCapacity);
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    int released = 0;
    while (released < n - cached && std::chrono::steady_clock::now() < give_up) {
      goro::sleep_for(60ms);
      released = 0;
      for (const char* d : deep) released += !resident(d);
    }
    CHECK(released >= n - cached);
    CHECK(goro::rt::sched.stacks.cold() == 0);  // shrunk, not trimmed

    // The shrunk stacks work as before, deep again.
    std::atomic<long> deep_ok{0};
    finished.add(n);
    for (int i = 0; i < n; ++i)
      goro::go([&] {
        char top = 0;
        deep_ok += recurse_until(&top, 128 * 1024, 0) < 1000000;
        finished.done();
      });
    finished.wait();
    CHECK(deep_ok == n);
  });
}

// Starts `parked` goroutines that park, then one (goroutine parked + 2) that overflows its 64 KiB
// stack. Stacks are set up in batches, guards installed together: with 40 parked, the deep one's
// stack comes from a later batch than the first.
int overflow_after(int parked) {
  goro::Config c;
  c.stack_size = 64 * 1024;
  c.procs = 1;
  goro::run(c, [parked] {
    for (int i = 0; i < parked; ++i) goro::go([] { park_forever(); });
    goro::yield();
    goro::go([] { overflow(0); });
    for (;;) goro::yield();
  });
  return 0;
}
GORO_CHILD("overflow") { return overflow_after(0); }
GORO_CHILD("overflow-later") { return overflow_after(40); }

TEST_CASE("overflowing a stack stops the process with a message") {
  {
    ChildResult r = run_child("overflow");
    INFO(r.err);
    CHECK(r.signal == SIGABRT);
    CHECK(r.err.find("goro: goroutine 2 overflowed its 64 KiB stack; raise Config::stack_size or "
                     "GORO_STACK") != std::string::npos);
  }
  ChildResult later = run_child("overflow-later");
  INFO(later.err);
  CHECK(later.signal == SIGABRT);
  CHECK(later.err.find("goro: goroutine 42 overflowed its 64 KiB stack") != std::string::npos);
}

// A goroutine that parks with `slack` bytes of its 64 KiB stack left: the switch away (which
// sets up the next goroutine's stack, a deep path) may overflow on the leaving goroutine's stack.
goro::chan<int>* wake_deep;
[[gnu::noinline]] void park_when_deep(const char* top, std::size_t budget) {
  volatile char frame[64];
  frame[0] = 0;
  if (static_cast<std::size_t>(top - const_cast<const char*>(frame)) < budget) {
    park_when_deep(top, budget);
    return;
  }
  goro::go([] {});     // in runnext, without a stack yet
  wake_deep->recv();   // parks: the switch sets up that stack first
}
GORO_CHILD("overflow-while-parking") {
  const std::size_t slack = std::strtoul(std::getenv("SLACK"), nullptr, 10);
  goro::Config c;
  c.stack_size = 64 * 1024;
  c.procs = 1;
  return goro::run(c, [slack] {
    goro::chan<int> wake;
    wake_deep = &wake;
    goro::chan<int> hold;
    for (int i = 0; i < 40; ++i) goro::go([hold] { hold.recv(); });  // empty the P's stack cache
    goro::yield();
    goro::go([slack] {
      char top = 0;
      park_when_deep(&top, 64 * 1024 - slack);
    });
    goro::sleep_for(std::chrono::milliseconds(5));
    wake.send(1);
    return 0;
  });
}

TEST_CASE("a stack overflow while a goroutine parks still stops the process with a message") {
  // Where on the way out the overflow hits depends on the build: try a range of depths. Each
  // child either parks and finishes, or overflows with the message; never a bare SIGSEGV.
  int overflowed = 0;
  for (int slack = 256; slack <= 4096; slack += 64) {
    ChildResult r = run_child("overflow-while-parking", {"SLACK=" + std::to_string(slack)});
    CAPTURE(slack);
    if (r.exit_code == 0) continue;
    ++overflowed;
    CHECK(r.signal == SIGABRT);
    CHECK_MESSAGE(r.err.find("overflowed its 64 KiB stack") != std::string::npos, r.err);
  }
  CHECK(overflowed > 0);
}

GORO_CHILD("stack-size-from-env") {
  return goro::run([] { return goro::rt::sched.stacks.stack_bytes() == 128 * 1024 ? 0 : 1; });
}

TEST_CASE("GORO_STACK sets the stack size") {
  CHECK_CHILD_SUCCEEDS("stack-size-from-env", {"GORO_STACK=128K"});
}

// A SIGSEGV that is not an overflow must kill the process as it would without goro, also when
// it was sent rather than raised by a fault (kill -SEGV, raise): returning from the handler
// re-runs a faulting instruction, but a sent signal is then simply gone.
GORO_CHILD("sent-segv") {
  goro::Config c;
  c.procs = 1;
  return goro::run(c, [] {
    std::raise(SIGSEGV);
    return 0;
  });
}

TEST_CASE("a worker's alternate signal stack has a guard page below it") {
  // The overflow handler, and any SIGSEGV handler installed before it, runs there: overflowing
  // it must fault, not write into whatever is mapped below.
  goro::run([] {
    stack_t ss{};
    REQUIRE(::sigaltstack(nullptr, &ss) == 0);
    REQUIRE(!(ss.ss_flags & SS_DISABLE));
    const auto lo = reinterpret_cast<std::uintptr_t>(ss.ss_sp);
    std::ifstream maps("/proc/self/maps");
    std::string line, below = "(nothing mapped)";
    while (std::getline(maps, line)) {  // "lo-hi perms ...": find the mapping that ends at lo
      std::istringstream fields(line);
      std::string range, perms;
      fields >> range >> perms;
      if (std::stoull(range.substr(range.find('-') + 1), nullptr, 16) == lo) below = perms;
    }
    CHECK(below == "---p");
  });
}

TEST_CASE("a SIGSEGV that is not an overflow still kills the process") {
  ChildResult r = run_child("sent-segv");
  INFO(r.err);
  CHECK(r.exit_code != 0);  // a signal (or, under a sanitizer, its report and exit code)
}

// A goroutine that touches another goroutine's guard (a stray pointer, not an overflow) crashes
// as any bad access does; it must not be reported as the other goroutine's overflow. The one
// that parked is still the M's "leaving" goroutine while the next one runs.
const char* volatile other_guard;
GORO_CHILD("touch-other-guard") {
  goro::Config c;
  c.procs = 1;
  return goro::run(c, [] {
    goro::chan<int> never;
    goro::go([never] {
      other_guard = goro::rt::current_m()->curg->stack->lo - 128;
      goro::go([] { std::printf("%d\n", *other_guard); });  // runs next, on this M
      never.recv();
    });
    for (;;) goro::yield();
    return 0;
  });
}

TEST_CASE("a fault in the guard of a stack that is not running is not reported as an overflow") {
  ChildResult r = run_child("touch-other-guard");
  INFO(r.err);
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("overflowed") == std::string::npos);
}
