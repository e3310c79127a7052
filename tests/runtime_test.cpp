// tests/runtime_test.cpp — run, go, yield, ids and counts, and every exception rule.
#include "support.hpp"

#include "sched/sched.hpp"

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace goro_test;
using namespace std::chrono_literals;

namespace {

struct Boom : std::runtime_error {
  explicit Boom(int n) : std::runtime_error("boom " + std::to_string(n)), id(n) {}
  int id;
};

// Waits (yielding) until `counter` reaches `target`.
void wait_for(const std::atomic<long>& counter, long target) {
  while (counter.load() != target) goro::yield();
}

}  // namespace

TEST_CASE("run returns what main returns") {
  each_procs([](goro::Config c) {
    CHECK(goro::run(c, [] { return 42; }) == 42);
    CHECK(goro::run(c, [] { return std::string("hello"); }) == "hello");
    auto owned = goro::run(c, [] { return std::make_unique<int>(5); });
    CHECK(*owned == 5);
    int x = 7;
    int& ref = goro::run(c, [&]() -> int& { return x; });
    CHECK(&ref == &x);
    // An rvalue reference too (before the commit that added this, it did not compile).
    int&& moved = goro::run(c, [&]() -> int&& { return std::move(x); });
    CHECK(&moved == &x);
    bool ran = false;
    goro::run(c, [&] { ran = true; });
    CHECK(ran);
  });
}

TEST_CASE("main is goroutine 1, ids are unique, plain threads are goroutine 0") {
  CHECK(goro::goroutine_id() == 0);
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      CHECK(goro::goroutine_id() == 1);
      constexpr long kN = 2000;
      std::vector<std::atomic<std::uint64_t>> ids(kN);
      std::atomic<long> done{0};
      for (long i = 0; i < kN; ++i)
        goro::go([&, i] {
          ids[static_cast<std::size_t>(i)] = goro::goroutine_id();
          ++done;
        });
      wait_for(done, kN);
      std::set<std::uint64_t> seen;
      for (auto& id : ids) {
        CHECK(id > 1);
        seen.insert(id);
      }
      CHECK(seen.size() == kN);
      std::thread([] { CHECK(goro::goroutine_id() == 0); }).join();
    });
  });
}

TEST_CASE("procs and num_goroutines") {
  CHECK(goro::procs() == 0);
  CHECK(goro::num_goroutines() == 0);
  each_procs([](goro::Config c) {
    goro::run(c, [&] {
      CHECK(goro::procs() == c.procs);
      CHECK(goro::num_goroutines() == 1);
      std::atomic<long> parked{0};
      for (int i = 0; i < 10; ++i)
        goro::go([&] {
          ++parked;
          park_forever();
        });
      wait_for(parked, 10);
      CHECK(goro::num_goroutines() == 11);
      std::thread([&] { CHECK(goro::procs() == c.procs); }).join();
    });
  });
}

TEST_CASE("num_goroutines never counts a goroutine's exit without its spawn") {
  // A plain thread spawns goroutines that run and exit on another P while main keeps counting:
  // a count that read the spawns before the exits could see one exit too many.
  goro::Config c;
  c.procs = 2;
  goro::run(c, [] {
    std::atomic<bool> stop{false};
    auto spawn = [&] {
      while (!stop.load()) goro::go([] {});
    };
    std::thread spawner(spawn), spawner2(spawn);
    long too_few = 0;
    for (long i = 0; i < scaled(20'000'000); ++i) too_few += goro::num_goroutines() < 1;
    stop = true;
    spawner.join();
    spawner2.join();
    CHECK(too_few == 0);
  });
}

TEST_CASE("go copies its arguments as std::thread does") {
  goro::run([] {
    std::atomic<long> done{0};
    std::string text = "abc";
    int value = 1;
    auto owned = std::make_unique<int>(9);
    goro::go(
        [&done](std::string s, int v, int& r, std::unique_ptr<int> p) {
          CHECK(s == "abc");
          CHECK(v == 1);
          r = 2;
          CHECK(*p == 9);
          ++done;
        },
        text, value, std::ref(value), std::move(owned));
    text = "changed";  // the goroutine has its own copy
    wait_for(done, 1);
    CHECK(value == 2);
    CHECK(owned == nullptr);

    // A closure too big to live inside the goroutine record goes to the heap and is freed.
    auto token = std::make_shared<int>(0);
    std::array<long, 64> big{};
    big[63] = 5;
    goro::go([&done, big, token] {
      CHECK(big[63] == 5);
      ++done;
    });
    wait_for(done, 2);
    // It frees its closure just after ++done, maybe on another P.
    CHECK(eventually([&] { return token.use_count() == 1; }));
  });
}

TEST_CASE("go without a runtime throws std::logic_error") {
  CHECK_THROWS_AS(goro::go([] {}), std::logic_error);
  std::thread([] { CHECK_THROWS_AS(goro::go([] {}), std::logic_error); }).join();
}

TEST_CASE("run inside run throws std::logic_error") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      CHECK_THROWS_AS(goro::run([] {}), std::logic_error);
      std::atomic<long> done{0};
      goro::go([&] {
        CHECK_THROWS_AS(goro::run([] {}), std::logic_error);
        ++done;
      });
      // Another thread cannot start a second runtime either.
      std::thread([] { CHECK_THROWS_AS(goro::run([] {}), std::logic_error); }).join();
      wait_for(done, 1);
    });
  });
}

TEST_CASE("run many times in a row") {
  for (int i = 0; i < 50; ++i) {
    goro::Config c;
    c.procs = 1 + i % 4;
    CHECK(goro::run(c, [i] {
      std::atomic<long> done{0};
      for (int k = 0; k < 100; ++k) goro::go([&] { ++done; });
      wait_for(done, 100);
      return i;
    }) == i);
  }
}

TEST_CASE("go from many plain threads at once") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      constexpr int kThreads = 8;
      const long per_thread = scaled(20000);
      std::atomic<long> ran{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&] {
          for (long i = 0; i < per_thread; ++i) goro::go([&] { ++ran; });
        });
      for (auto& t : threads) t.join();
      wait_for(ran, kThreads * per_thread);
    });
  });
}

TEST_CASE("go from a plain thread after the runtime stopped throws") {
  std::atomic<bool> go_now{false};
  std::thread late;
  goro::run([&] { late = std::thread([&] {
                    while (!go_now) std::this_thread::yield();
                    CHECK_THROWS_AS(goro::go([] {}), std::logic_error);
                  }); });
  go_now = true;
  late.join();
}

// The refusal says why: not "main has returned" when main has not, and the run is ending
// because a goroutine failed.
TEST_CASE("go from a plain thread while a failure stops the runtime says so") {
  std::string message;
  std::atomic<bool> in_f{false}, told{false};
  std::thread late;
  goro::Config c;
  c.procs = 2;
  CHECK_THROWS_AS(goro::run(c, [&] {
    goro::go([&] {  // keeps the run from ending until the plain thread has been refused
      goro::blocking([&] {
        in_f = true;
        while (!told) std::this_thread::sleep_for(1ms);
      });
    });
    eventually([&] { return in_f.load(); });
    late = std::thread([&] {
      while (!goro::rt::sched.stopping.load()) std::this_thread::sleep_for(1ms);
      try {
        goro::go([] {});
      } catch (const std::logic_error& e) {
        message = e.what();
      }
      told = true;
    });
    goro::go([] { throw Boom(9); });
    park_forever();
  }), Boom);
  late.join();
  CHECK_MESSAGE(contains(message, "a goroutine failed"), message);
  CHECK_MESSAGE(!contains(message, "main has returned"), message);
}

TEST_CASE("an exception escaping main is rethrown by run") {
  each_procs([](goro::Config c) {
    try {
      goro::run(c, [] { throw Boom(1); });
      FAIL("run did not throw");
    } catch (const Boom& e) {
      CHECK(e.id == 1);
    }
    // The runtime is usable again at once.
    CHECK(goro::run(c, [] { return 3; }) == 3);
  });
}

TEST_CASE("an exception escaping any goroutine stops the runtime; run rethrows it") {
  each_procs([](goro::Config c) {
    CHECK_THROWS_AS(goro::run(c, [] {
      goro::go([] { throw Boom(2); });
      park_forever();  // main would wait forever; the failure ends the run
    }), Boom);
    // Several failing at once: run rethrows one of them.
    CHECK_THROWS_AS(goro::run(c, [] {
      for (int i = 0; i < 20; ++i) goro::go([i] { throw Boom(i); });
      for (;;) goro::yield();
    }), Boom);
  });
}

TEST_CASE("exceptions are caught and rethrown across switches and migrations") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      constexpr long kN = 200;
      std::atomic<long> done{0};
      for (long i = 0; i < kN; ++i)
        goro::go([&done, i] {
          const int id = static_cast<int>(i);
          try {
            try {
              throw Boom(id);
            } catch (const Boom& inner) {
              for (int k = 0; k < 5; ++k) goro::yield();  // park inside the handler, maybe move
              CHECK(inner.id == id);
              CHECK(std::uncaught_exceptions() == 0);
              throw;  // must rethrow *this* goroutine's exception
            }
          } catch (const Boom& outer) {
            CHECK(outer.id == id);
          }
          ++done;
        });
      wait_for(done, kN);
    });
  });
}

TEST_CASE("std::uncaught_exceptions follows the goroutine, not the thread") {
  struct YieldsWhileUnwinding {
    ~YieldsWhileUnwinding() {
      CHECK(std::uncaught_exceptions() == 1);
      for (int k = 0; k < 5; ++k) goro::yield();
      CHECK(std::uncaught_exceptions() == 1);
    }
  };
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      std::atomic<long> done{0};
      for (int i = 0; i < 50; ++i) {
        goro::go([&] {
          try {
            YieldsWhileUnwinding y;
            throw Boom(0);
          } catch (const Boom&) {
          }
          CHECK(std::uncaught_exceptions() == 0);
          ++done;
        });
        goro::go([&] {  // runs in between, on the same threads
          for (int k = 0; k < 5; ++k) {
            CHECK(std::uncaught_exceptions() == 0);
            goro::yield();
          }
          ++done;
        });
      }
      wait_for(done, 100);
    });
  });
}

TEST_CASE("an exception thrown inside blocking() reaches the goroutine") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      const auto id = goro::goroutine_id();
      CHECK_THROWS_AS(goro::blocking([] { throw Boom(3); }), Boom);
      CHECK(goro::goroutine_id() == id);
      CHECK(goro::blocking([] { return 5; }) == 5);
    });
  });
}

TEST_CASE("a throwing argument copy makes go throw and starts nothing") {
  struct ThrowsOnCopy {
    ThrowsOnCopy() = default;
    ThrowsOnCopy(const ThrowsOnCopy&) { throw Boom(4); }
  };
  goro::run([] {
    ThrowsOnCopy arg;
    CHECK_THROWS_AS(goro::go([](const ThrowsOnCopy&) {}, arg), Boom);
    CHECK(goro::num_goroutines() == 1);
    std::atomic<long> done{0};
    goro::go([&] { ++done; });  // the runtime is unharmed
    wait_for(done, 1);
  });
}

// Go's `go` of a nil func panics at the go statement. goro's would crash in the new goroutine (a
// null function pointer) or stop the runtime from it (an empty std::function), far from the call.
TEST_CASE("go of a null function throws std::invalid_argument at the call and starts nothing") {
  goro::run([] {
    void (*none)() = nullptr;
    void (*takes)(int) = nullptr;
    std::function<void()> empty;
    struct S {
      void f() {}
    };
    void (S::*member)() = nullptr;
    S s;
    CHECK_THROWS_WITH_AS(goro::go(none), "goro: go of a null function", std::invalid_argument);
    CHECK_THROWS_AS(goro::go(takes, 1), std::invalid_argument);
    CHECK_THROWS_AS(goro::go(empty), std::invalid_argument);
    CHECK_THROWS_AS(goro::go(std::move(empty)), std::invalid_argument);
    CHECK_THROWS_AS(goro::go(member, &s), std::invalid_argument);
    CHECK(goro::num_goroutines() == 1);
    std::atomic<long> done{0};
    std::function<void()> some = [&] { ++done; };
    goro::go(some);  // not empty: runs
    goro::go(+[] {});
    wait_for(done, 1);
  });
}

// As go: a null main would crash goroutine 1 (a null function pointer), or fail it with
// std::bad_function_call (an empty std::function), instead of failing at the call.
TEST_CASE("run of a null function throws std::invalid_argument and starts nothing") {
  int (*none)() = nullptr;
  std::function<void()> empty;
  CHECK_THROWS_WITH_AS(goro::run(none), "goro: run of a null function", std::invalid_argument);
  CHECK_THROWS_AS(goro::run(goro::Config{}, empty), std::invalid_argument);
  CHECK(goro::run([] { return 4; }) == 4);  // the runtime is unharmed
}

// A thread the runtime needs cannot start (here: no address space left for its stack). Go
// stops with "failed to create new OS thread"; goro stops with a message that says which thread
// and what to check, instead of letting std::system_error out of whatever goro call started it.
GORO_CHILD("runtime-thread-cannot-start") {
  long vm_kib = 0;
  std::FILE* status = std::fopen("/proc/self/status", "r");
  char line[256];
  while (status && std::fgets(line, sizeof line, status))
    if (std::sscanf(line, "VmSize: %ld kB", &vm_kib) == 1) break;
  if (status) std::fclose(status);
  // Room for the runtime's first G slab (4 MiB, trimmed to 2) and the heap, none for a thread's
  // 8 MiB stack.
  const rlim_t limit = static_cast<rlim_t>(vm_kib + 6 * 1024) * 1024;
  const rlimit rl{limit, limit};
  if (vm_kib == 0 || ::setrlimit(RLIMIT_AS, &rl) != 0) return 3;
  goro::Config c;
  c.procs = 2;
  goro::run(c, [] {});
  return 0;
}

// std::exit() is C++'s os.Exit: it may be called while goroutines run. The scheduler's state is
// never destroyed, so the static destructors it runs cannot pull it from under the workers (it
// used to abort: "terminate called without an active exception", from the monitor's thread).
GORO_CHILD("exit inside run") {
  goro::Config c;
  c.procs = 2;
  goro::run(c, [] {
    goro::go([] {
      goro::sleep_for(std::chrono::milliseconds(1));
      std::exit(3);
    });
    goro::sleep_for(std::chrono::seconds(20));
  });
  return 1;
}

TEST_CASE("std::exit inside run exits with its status") {
  // LSan would report what the abandoned goroutines hold: it cannot see into fiber stacks.
  const char* asan = std::getenv("ASAN_OPTIONS");
  ChildResult r = run_child("exit inside run", {std::string("ASAN_OPTIONS=") + (asan ? asan : "") + ":detect_leaks=0"});
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.signal == 0);
}

TEST_CASE("a runtime thread that cannot start stops the process with a clear message") {
  if (GORO_TEST_SANITIZED) return;  // the sanitizers need the address space for their shadow
  ChildResult r = run_child("runtime-thread-cannot-start");
  INFO(r.err);
  REQUIRE(r.exit_code != 3);
  CHECK(r.signal == SIGABRT);
  CHECK(r.err.find("goro: fatal error: cannot start a monitor thread") != std::string::npos);
}
