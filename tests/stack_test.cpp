// tests/stack_test.cpp — goroutine stacks: deep use, reuse, and overflow.
#include "support.hpp"

#include "sched/sched.hpp"

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <set>

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

GORO_CHILD("overflow") {
  goro::Config c;
  c.stack_size = 64 * 1024;
  c.procs = 1;
  goro::run(c, [] {
    goro::go([] { overflow(0); });  // goroutine 2
    for (;;) goro::yield();
  });
  return 0;
}

TEST_CASE("overflowing a stack stops the process with a message") {
  ChildResult r = run_child("overflow");
  CHECK(r.signal == SIGABRT);
  CHECK(r.err.find("goro: goroutine 2 overflowed its 64 KiB stack; raise Config::stack_size or "
                   "GORO_STACK") != std::string::npos);
  INFO(r.err);
}

GORO_CHILD("stack-size-from-env") {
  return goro::run([] { return goro::rt::sched.stacks.stack_bytes() == 128 * 1024 ? 0 : 1; });
}

TEST_CASE("GORO_STACK sets the stack size") {
  ChildResult r = run_child("stack-size-from-env", {"GORO_STACK=128K"});
  CHECK(r.exit_code == 0);
  INFO(r.err);
}
