// tests/sync_test.cpp — Mutex, RWMutex, WaitGroup, Once, Cond and Semaphore: Go's sync tests
// (mutex_test.go, rwmutex_test.go, waitgroup_test.go, once_test.go, cond_test.go) and
// golang.org/x/sync/semaphore's, on goroutines, plain threads and both together; misuse; and
// the deadlock report of a goroutine stuck on each primitive.
#include "support.hpp"

#include <goro/chan.hpp>
#include <goro/select.hpp>
#include <goro/sync.hpp>
#include <goro/time.hpp>

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// A point to pause a plain thread just before it takes its outermost WakeFence, so that
// teardown can overtake it there: the suite compiles sched/settle.cpp into itself with the
// point defined (the archive's copy is then not linked: every symbol it defines is already
// defined here). The library itself has nothing there.
namespace goro_test {

// A thread that sets fence_pause stops at its next fence until `go` (after letting `skip` fences
// pass); `paused` says it is there.
struct FencePause {
  std::atomic<bool> paused{false}, go{false};
  int skip = 0;
};
inline thread_local FencePause* fence_pause = nullptr;  // plain threads only

inline void before_fence() {
  if (FencePause* p = fence_pause) {
    if (p->skip > 0) {
      --p->skip;
      return;
    }
    fence_pause = nullptr;
    p->paused = true;
    while (!p->go) std::this_thread::yield();
  }
}

}  // namespace goro_test

#define GORO_TEST_BEFORE_FENCE() ::goro_test::before_fence()
#include "sched/settle.cpp"

// Likewise sync/rwmutex.cpp, with a point in RWMutex::unlock() between releasing its writers'
// Mutex and letting readers in: once armed, the next unlock() waits there until another writer
// has come in behind it (readers_ below -kMaxReaders), 10 s at most.
namespace goro_test {

inline std::atomic<bool> writer_released_armed{false};

inline void writer_released(const std::atomic<std::int32_t>& readers) {
  if (!writer_released_armed.exchange(false)) return;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (readers.load() >= -(1 << 30) && std::chrono::steady_clock::now() < until) std::this_thread::yield();
}

}  // namespace goro_test

#define GORO_TEST_WRITER_RELEASED(readers) ::goro_test::writer_released(readers)
#include "sync/rwmutex.cpp"

using namespace goro_test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Destroys *p and takes its memory back at once, filled with `fill` (malloc hands a just-freed
// block of the same size out again): a late touch of the old object finds garbage, not its last
// state. Under ASan the freed block is quarantined instead, and a touch is a heap-use-after-free.
// Free the result with ::operator delete.
template <class T>
void* destroy_and_reuse(T* p, unsigned char fill = 0x41) {
  delete p;
  void* block = ::operator new(sizeof(T));
  std::memset(block, fill, sizeof(T));
  return block;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Mutex

TEST_CASE("Mutex: mutual exclusion under heavy contention on every P") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      constexpr int kGoroutines = 16;
      const long per = scaled(20000);
      goro::Mutex mu;
      long counter = 0;  // plain: only the mutex protects it
      std::atomic<int> inside{0};
      std::atomic<long> overlaps{0}, finished{0};
      for (int g = 0; g < kGoroutines; ++g)
        goro::go([&, g] {
          for (long i = 0; i < per; ++i) {
            // Every way in: lock(), lock_guard, unique_lock, and a try_lock loop.
            auto body = [&] {
              if (inside.fetch_add(1) != 0) ++overlaps;
              ++counter;
              if (i % 97 == 0) goro::yield();  // waiters pile up while the holder is off-CPU
              inside.fetch_sub(1);
            };
            switch ((g + i) % 4) {
              case 0: {
                mu.lock();
                body();
                mu.unlock();
                break;
              }
              case 1: {
                std::lock_guard lock(mu);
                body();
                break;
              }
              case 2: {
                std::unique_lock lock(mu);
                body();
                break;
              }
              default: {
                while (!mu.try_lock()) goro::yield();
                body();
                mu.unlock();
              }
            }
          }
          ++finished;
        });
      REQUIRE(wait_count(finished, kGoroutines));
      CHECK(overlaps.load() == 0);
      std::lock_guard lock(mu);
      CHECK(counter == kGoroutines * per);
    });
  });
}

TEST_CASE("Mutex: Lockable — lock_guard, unique_lock, scoped_lock, std::lock; try_lock") {
  goro::run([] {
    goro::Mutex a, b;
    {
      std::lock_guard lock(a);
      CHECK(!a.try_lock());  // not recursive
    }
    CHECK(a.try_lock());
    CHECK(!a.try_lock());
    a.unlock();
    {
      std::unique_lock lock(a, std::try_to_lock);
      CHECK(lock.owns_lock());
      std::unique_lock other(b, std::defer_lock);
      CHECK(!other.owns_lock());
      other.lock();
      CHECK(!b.try_lock());
      lock.unlock();
      CHECK(a.try_lock());
      a.unlock();
    }
    {
      std::scoped_lock both(a, b);  // std::lock's deadlock avoidance, through try_lock
      CHECK(!a.try_lock());
      CHECK(!b.try_lock());
    }
    CHECK(a.try_lock());
    CHECK(b.try_lock());
    a.unlock();
    b.unlock();

    // Two goroutines taking the same pair in opposite orders through std::lock never deadlock.
    std::atomic<long> done{0};
    for (int k = 0; k < 2; ++k)
      goro::go([&, k] {
        for (int i = 0; i < 2000; ++i) {
          if (k == 0) std::lock(a, b);
          else std::lock(b, a);
          a.unlock();
          b.unlock();
        }
        ++done;
      });
    REQUIRE(wait_count(done, 2));
  });
}

TEST_CASE("Mutex: try_lock fails while another goroutine holds it; unlock may come from another goroutine") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::Mutex mu;
      goro::chan<int> locked, release, unlocked;
      goro::go([&] {
        mu.lock();
        locked.send(1);
        release.recv();
        mu.unlock();
        unlocked.send(1);
      });
      locked.recv();
      CHECK(!mu.try_lock());
      release.send(1);
      unlocked.recv();
      CHECK(mu.try_lock());
      // As in Go, a Mutex is not tied to a goroutine: another one may unlock it.
      goro::chan<int> done;
      goro::go([&] {
        mu.unlock();
        done.send(1);
      });
      done.recv();
      CHECK(mu.try_lock());
      mu.unlock();
    });
  });
}

TEST_CASE("Mutex: a blocked lock() waits for the holder, parked with its wait reason") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::Mutex mu;
      std::atomic<bool> got{false};
      mu.lock();
      goro::go([&] {
        mu.lock();
        got = true;
        mu.unlock();
      });
      REQUIRE(wait_parked("sync.Mutex.Lock"));
      CHECK(!got.load());
      mu.unlock();
      const auto give_up = Clock::now() + 20s;
      while (!got && Clock::now() < give_up) goro::sleep_for(1ms);
      CHECK(got.load());
    });
  });
}

// Go's TestMutexFairness, measured: a goroutine that needs the lock now and then, while others
// re-take it the moment they release it. In normal mode a woken waiter loses nearly every race
// to a goroutine that is already running; starvation mode (after 1 ms of waiting) hands the lock
// over directly, so its wait stays within a few hold times. Without starvation mode the victim
// waits until the hammers give up (10 s), so the bound below fails.
TEST_CASE("Mutex: starvation mode bounds the wait of a goroutine competing with hammers") {
  each_procs([](goro::Config c) {
    const auto worst = goro::run(c, [] {
      goro::Mutex mu;
      std::atomic<bool> stop{false};
      std::atomic<long> hammers_done{0};
      const auto give_up = Clock::now() + 10s;  // so a broken mutex fails the test, not hangs it
      constexpr int kHammers = 4;
      for (int h = 0; h < kHammers; ++h)
        goro::go([&, h] {
          while (!stop && Clock::now() < give_up) {
            mu.lock();
            if (h % 2 == 0) {
              goro::sleep_for(100us);  // holder parked
              mu.unlock();             // ... and straight back for more
            } else {
              spin_for(50us);  // holder running
              mu.unlock();
              goro::yield();  // goro does not preempt: let the others at this P
            }
          }
          ++hammers_done;
        });
      goro::sleep_for(2ms);  // let the hammers get going
      Clock::duration worst{};
      for (int i = 0; i < 20; ++i) {
        goro::sleep_for(100us);
        const auto start = Clock::now();
        mu.lock();
        worst = std::max(worst, Clock::now() - start);
        mu.unlock();
      }
      stop = true;
      REQUIRE(wait_count(hammers_done, kHammers));
      return worst;
    });
    MESSAGE("procs " << c.procs << ": worst wait "
                     << std::chrono::duration_cast<std::chrono::microseconds>(worst).count() << " us");
    CHECK(worst < 2s);  // typically a few ms
  });
}

TEST_CASE("Mutex: plain threads and goroutines share one Mutex") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::Mutex mu;
      long counter = 0;
      std::atomic<int> inside{0};
      std::atomic<long> overlaps{0}, finished{0};
      const long per = scaled(20000);
      auto work = [&] {
        for (long i = 0; i < per; ++i) {
          std::lock_guard lock(mu);
          if (inside.fetch_add(1) != 0) ++overlaps;
          ++counter;
          inside.fetch_sub(1);
        }
        ++finished;
      };
      std::vector<std::thread> threads;
      for (int t = 0; t < 2; ++t) threads.emplace_back(work);
      for (int g = 0; g < 6; ++g) goro::go(work);
      REQUIRE(wait_count(finished, 8));
      for (auto& t : threads) t.join();
      CHECK(overlaps.load() == 0);
      CHECK(counter == 8 * per);

      // A plain thread blocks on a Mutex that a goroutine holds while it sleeps.
      mu.lock();
      std::atomic<bool> got{false};
      std::thread t([&] {
        mu.lock();
        got = true;
        mu.unlock();
      });
      goro::sleep_for(30ms);
      CHECK(!got.load());
      mu.unlock();
      t.join();
      CHECK(got.load());
    });
  });
  // No runtime at all: threads only.
  goro::Mutex mu;
  long counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        std::lock_guard lock(mu);
        ++counter;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(counter == 40000);
}

// Plain threads that contend for a Mutex while another thread starts runs: a waiter decides
// whether to spin (only a goroutine may), and a plain thread must decide so without reading the
// scheduler's state, which run() writes meanwhile. Before the fix it read sched.nprocs first: a
// data race with run()'s start (TSan reports it; the other builds cannot see it). The threads
// and main synchronize through nothing but relaxed counters, so nothing orders the two.
TEST_CASE("Mutex: plain threads contend for one while runs start and stop") {
  goro::Mutex mu;
  std::atomic<bool> stop{false};
  std::atomic<long> rounds{0};
  auto contend = [&] {
    while (!stop.load(std::memory_order_relaxed)) {
      mu.lock();
      spin_for(1us);
      mu.unlock();
      rounds.fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::thread a(contend), b(contend);
  for (unsigned procs : {2u, 8u, 2u, 8u}) {
    const long target = rounds.load(std::memory_order_relaxed) + 500;
    while (rounds.load(std::memory_order_relaxed) < target) std::this_thread::yield();
    goro::Config c;
    c.procs = procs;
    goro::run(c, [] {});
  }
  stop.store(true, std::memory_order_relaxed);
  a.join();
  b.join();
  CHECK(rounds.load() >= 2000);
}

GORO_CHILD("mutex-unlock-unlocked") {
  goro::run([] {
    goro::Mutex mu;
    mu.lock();
    mu.unlock();
    mu.unlock();
  });
  return 0;
}

GORO_CHILD("mutex-unlock-unlocked-thread") {
  goro::Mutex mu;
  mu.unlock();
  return 0;
}

TEST_CASE("Mutex: unlock of an unlocked Mutex is a fatal error") {
  for (const char* child : {"mutex-unlock-unlocked", "mutex-unlock-unlocked-thread"}) {
    CAPTURE(child);
    ChildResult r = run_child(child);
    INFO(r.err);
    CHECK(r.signal == SIGABRT);
    CHECK(contains(r.err, "goro: fatal error: unlock of an unlocked goro::Mutex"));
  }
}

// ---------------------------------------------------------------------------------------------
// RWMutex

TEST_CASE("RWMutex: readers share the lock") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      // Go's TestParallelReaders: every reader holds the lock until all of them do.
      constexpr long kReaders = 10;
      goro::RWMutex rw;
      std::atomic<long> inside{0}, finished{0}, all_in{0};
      for (long r = 0; r < kReaders; ++r)
        goro::go([&, r] {
          if (r % 2) rw.lock_shared();
          else REQUIRE(rw.try_lock_shared());  // no writer anywhere: never fails
          ++inside;
          if (wait_count(inside, kReaders)) ++all_in;
          rw.unlock_shared();
          ++finished;
        });
      REQUIRE(wait_count(finished, kReaders));
      CHECK(all_in.load() == kReaders);
      CHECK(rw.try_lock());
      rw.unlock();
    });
  });
}

TEST_CASE("RWMutex: writers exclude readers and each other (Go's HammerRWMutex)") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::RWMutex rw;
      std::atomic<long> activity{0}, bad{0}, finished{0};
      long value = 0;  // written by writers only, read by readers
      const long iterations = scaled(5000);
      constexpr int kReaders = 10, kWriters = 3;
      for (int w = 0; w < kWriters; ++w)
        goro::go([&, w] {
          for (long i = 0; i < iterations; ++i) {
            if (w == 0 && i % 3 == 0) {
              while (!rw.try_lock()) goro::yield();
            } else {
              rw.lock();
            }
            if (activity.fetch_add(10000) != 0) ++bad;
            ++value;
            if (i % 50 == 0) goro::yield();
            if (activity.fetch_sub(10000) != 10000) ++bad;
            rw.unlock();
          }
          ++finished;
        });
      for (int r = 0; r < kReaders; ++r)
        goro::go([&, r] {
          long last = 0;
          for (long i = 0; i < iterations; ++i) {
            std::shared_lock lock(rw, std::defer_lock);
            if (r == 0 && i % 3 == 0) {
              while (!lock.try_lock()) goro::yield();
            } else {
              lock.lock();
            }
            const long n = activity.fetch_add(1) + 1;
            if (n >= 10000) ++bad;  // a writer is inside
            if (value < last) ++bad;
            last = value;
            if (i % 50 == 0) goro::yield();
            activity.fetch_sub(1);
          }
          ++finished;
        });
      REQUIRE(wait_count(finished, kReaders + kWriters));
      CHECK(bad.load() == 0);
      CHECK(value == kWriters * iterations);
    });
  });
}

// A waiting writer blocks new readers: shown without any timing. A reader holds the lock; a
// writer blocks; from then on new readers — try_lock_shared and lock_shared — stay out until the
// writer has had its turn.
TEST_CASE("RWMutex: a waiting writer blocks new readers") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::RWMutex rw;
      std::atomic<int> order{0};
      std::atomic<int> writer_at{-1}, reader_at{-1};
      goro::chan<int> done(2);
      rw.lock_shared();
      goro::go([&] {
        rw.lock();
        writer_at = order++;
        rw.unlock();
        done.send(1);
      });
      REQUIRE(wait_parked("sync.RWMutex.Lock"));
      CHECK(!rw.try_lock_shared());  // Go: TryRLock fails while a writer is pending
      CHECK(!rw.try_lock());
      goro::go([&] {
        std::shared_lock lock(rw);
        reader_at = order++;
        done.send(1);
      });
      REQUIRE(wait_parked("sync.RWMutex.RLock"));
      CHECK(writer_at.load() == -1);
      CHECK(reader_at.load() == -1);
      rw.unlock_shared();  // the writer goes first, then the reader
      done.recv();
      done.recv();
      CHECK(writer_at.load() == 0);
      CHECK(reader_at.load() == 1);
      CHECK(rw.try_lock_shared());
      CHECK(rw.try_lock_shared());
      CHECK(!rw.try_lock());
      rw.unlock_shared();
      rw.unlock_shared();
      CHECK(rw.try_lock());
      CHECK(!rw.try_lock_shared());
      rw.unlock();
    });
  });
}

// A reader let in by a writer's unlock() may see the writer's work done and destroy the RWMutex,
// as it could a std::shared_mutex: unlock() must not touch it after letting readers in. Before
// the fix it unlocked its inner Mutex last, in freed memory. Here that memory is reused at once,
// zeroed, so such a late unlock dies with "unlock of an unlocked goro::Mutex" (and is a
// heap-use-after-free under ASan); the block is also checked for any write once the writer is
// back. The writer is a plain thread, so it runs beside the reader even at procs 1.
TEST_CASE("RWMutex: a reader may destroy it once the writer's unlock() let it in") {
  struct Shared {
    goro::RWMutex rw;
    bool finished = false;
  };
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      const long rounds = scaled(20000);
      goro::chan<Shared*> to_writer(1);
      goro::chan<int> writer_back(1);
      std::thread writer([&] {
        while (Shared* s = to_writer.recv().value_or(nullptr)) {
          s->rw.lock();
          s->finished = true;
          s->rw.unlock();
          writer_back.send(1);
        }
      });
      for (long i = 0; i < rounds; ++i) {
        auto* s = new Shared;
        goro::chan<void*> reader_back(1);
        goro::go([s, &reader_back] {
          for (;;) {
            s->rw.lock_shared();
            const bool finished = s->finished;
            s->rw.unlock_shared();
            if (finished) break;
          }
          reader_back.send(destroy_and_reuse(s, 0));
        });
        to_writer.send(s);
        auto* block = static_cast<unsigned char*>(reader_back.recv().value());
        writer_back.recv();
        const bool untouched = std::all_of(block, block + sizeof(Shared), [](unsigned char b) { return b == 0; });
        ::operator delete(block);
        if (!untouched) FAIL("unlock() wrote to the RWMutex after a reader destroyed it, in round " << i);
      }
      to_writer.send(nullptr);
      writer.join();
    });
  });
}

TEST_CASE("RWMutex: std::shared_lock, std::unique_lock, std::lock_guard; plain threads") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::RWMutex rw;
      {
        std::shared_lock a(rw);
        std::shared_lock b(rw, std::try_to_lock);
        CHECK(b.owns_lock());
        std::unique_lock w(rw, std::try_to_lock);
        CHECK(!w.owns_lock());
      }
      {
        std::lock_guard w(rw);
        std::shared_lock r(rw, std::try_to_lock);
        CHECK(!r.owns_lock());
      }
      // Threads and goroutines, readers and writers, on one RWMutex.
      long value = 0;
      std::atomic<long> bad{0}, finished{0};
      const long per = scaled(5000);
      auto writer = [&] {
        for (long i = 0; i < per; ++i) {
          std::unique_lock lock(rw);
          const long v = value;
          value = v + 1;
        }
        ++finished;
      };
      auto reader = [&] {
        long last = 0;
        for (long i = 0; i < per; ++i) {
          std::shared_lock lock(rw);
          if (value < last) ++bad;
          last = value;
        }
        ++finished;
      };
      std::thread t1(writer), t2(reader);
      goro::go(writer);
      goro::go(reader);
      goro::go(reader);
      REQUIRE(wait_count(finished, 5));
      t1.join();
      t2.join();
      CHECK(bad.load() == 0);
      CHECK(value == 2 * per);
    });
  });
}

GORO_CHILD("rwmutex-unlock-unlocked") {
  goro::RWMutex rw;
  rw.unlock();
  return 0;
}

GORO_CHILD("rwmutex-unlock-shared-unlocked") {
  goro::run([] {
    goro::RWMutex rw;
    rw.lock_shared();
    rw.unlock_shared();
    rw.unlock_shared();
  });
  return 0;
}

GORO_CHILD("rwmutex-unlock-shared-write-locked") {
  goro::RWMutex rw;
  rw.lock();
  rw.unlock_shared();
  return 0;
}

TEST_CASE("RWMutex: misuse is a fatal error") {
  struct Case {
    const char* child;
    const char* message;
  };
  for (Case k : {Case{"rwmutex-unlock-unlocked", "unlock of an RWMutex not locked for writing"},
                 Case{"rwmutex-unlock-shared-unlocked", "unlock_shared of an RWMutex not locked for reading"},
                 Case{"rwmutex-unlock-shared-write-locked",
                      "unlock_shared of an RWMutex not locked for reading"}}) {
    CAPTURE(k.child);
    ChildResult r = run_child(k.child);
    INFO(r.err);
    CHECK(r.signal == SIGABRT);
    CHECK(contains(r.err, std::string("goro: fatal error: ") + k.message));
  }
}

// ---------------------------------------------------------------------------------------------
// WaitGroup

TEST_CASE("WaitGroup: wait returns when the counter reaches zero (Go's TestWaitGroup)") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::WaitGroup wg1, wg2;
      constexpr int n = 16;
      wg1.add(n);
      wg2.add(n);
      goro::chan<int> exited(n);
      for (int i = 0; i < n; ++i)
        goro::go([&] {
          wg1.done();
          wg2.wait();
          exited.send(1);
        });
      wg1.wait();
      for (int i = 0; i < n; ++i) {
        CHECK(!exited.try_recv());  // nobody passed wg2.wait() yet
        wg2.done();
      }
      for (int i = 0; i < n; ++i) exited.recv();

      goro::WaitGroup zero;
      zero.wait();  // at zero: returns at once
      zero.add(0);
      zero.wait();
    });
  });
}

TEST_CASE("WaitGroup: many waiters, goroutines and threads, and every one sees the work") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::WaitGroup wg;
      constexpr int kWorkers = 50, kWaiters = 20, kThreads = 3;
      std::vector<int> results(kWorkers, 0);  // plain: wait() must order the workers' writes
      std::atomic<long> waiters_ok{0}, waiters_done{0};
      wg.add(kWorkers);
      auto check = [&] {
        wg.wait();
        long ok = 1;
        for (int i = 0; i < kWorkers; ++i)
          if (results[static_cast<std::size_t>(i)] != i + 1) ok = 0;
        waiters_ok += ok;
        ++waiters_done;
      };
      for (int w = 0; w < kWaiters; ++w) goro::go(check);
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) threads.emplace_back(check);
      REQUIRE(wait_parked("sync.WaitGroup.Wait", kWaiters));
      CHECK(waiters_done.load() == 0);
      for (int i = 0; i < kWorkers; ++i)
        goro::go([&, i] {
          goro::yield();
          results[static_cast<std::size_t>(i)] = i + 1;
          wg.done();
        });
      wg.wait();
      REQUIRE(wait_count(waiters_done, kWaiters + kThreads));
      for (auto& t : threads) t.join();
      CHECK(waiters_ok.load() == kWaiters + kThreads);
    });
  });
}

TEST_CASE("WaitGroup: reuse after wait returned") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::WaitGroup wg;
      const int rounds = static_cast<int>(scaled(400));
      long total = 0;
      for (int round = 0; round < rounds; ++round) {
        const int n = 1 + round % 7;
        std::atomic<long> work{0};
        wg.add(n);
        for (int i = 0; i < n; ++i)
          goro::go([&] {
            ++work;
            wg.done();
          });
        // A second waiter per round; the round ends only once it has returned (Go's rule:
        // reuse only after every wait() of the previous round has returned).
        goro::WaitGroup waiter_back;
        waiter_back.add(1);
        std::atomic<long> seen{-1};
        goro::go([&] {
          wg.wait();
          seen = work.load();
          waiter_back.done();
        });
        wg.wait();
        CHECK(work.load() == n);
        waiter_back.wait();
        CHECK(seen.load() == n);
        total += work;
      }
      CHECK(total > 0);
    });
  });
}

// Likewise a WaitGroup may be destroyed once its counter reaches zero, before its waiters
// return. Before the fix a woken wait() read the state again (Go's reuse check): at procs 1 it
// found the garbage and threw "reused before the previous wait() has returned".
TEST_CASE("WaitGroup: may be destroyed once the counter reaches zero, before its waiters return") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      auto* wg = new goro::WaitGroup;
      wg->add(1);
      goro::chan<int> back(1);
      goro::go([&] {
        wg->wait();
        back.send(1);
      });
      REQUIRE(wait_parked("sync.WaitGroup.Wait"));
      wg->done();
      void* reused = destroy_and_reuse(wg);
      back.recv();
      ::operator delete(reused);
    });
  });
}

// The same with two waiters, and the first one woken destroys the group while the done() that
// reached zero has yet to release the second: that done() must not touch the group after its
// first wake-up. A plain thread's done() is paused between its wake-ups (at the fence of the
// second one, if any) until the first waiter has destroyed the group. Before the fix the second
// release read the reused block: it found no waiter there and the second waiter was never woken
// (under ASan: a heap-use-after-free).
TEST_CASE("WaitGroup: the first waiter woken may destroy it while others are still to be woken") {
  each_procs({1, 2}, [](goro::Config c) {
    // Freed after the run: a waiter never woken is settled at its end, in the reused block.
    std::atomic<void*> reused{nullptr};
    goro::run(c, [&reused] {
      auto* wg = new goro::WaitGroup;
      wg->add(1);
      std::atomic<int> returned{0};
      goro::go([&] {
        wg->wait();  // first in line
        reused = destroy_and_reuse(wg, 0);
        ++returned;
      });
      REQUIRE(wait_parked("sync.WaitGroup.Wait"));
      goro::go([&] {
        wg->wait();
        ++returned;
      });
      REQUIRE(wait_parked("sync.WaitGroup.Wait", 2));
      FencePause pause;
      pause.skip = 1;  // the fence of the first wake-up
      std::atomic<bool> done{false};
      std::thread t([&] {
        fence_pause = &pause;
        wg->done();
        fence_pause = nullptr;
        done = true;
      });
      REQUIRE(eventually([&] { return pause.paused || done; }));
      if (pause.paused) {  // between the wake-ups: let the first waiter destroy the group
        REQUIRE(eventually([&] { return reused.load() != nullptr; }));
        pause.go = true;
      }
      t.join();
      CHECK(eventually([&] { return returned.load() == 2; }));
    });
    ::operator delete(reused.load());
  });
}

TEST_CASE("WaitGroup: a negative counter throws std::logic_error and leaves the group usable") {
  goro::run([] {
    goro::WaitGroup wg;
    CHECK_THROWS_AS(wg.done(), std::logic_error);
    CHECK_THROWS_AS(wg.add(-5), std::logic_error);
    wg.wait();  // still zero
    wg.add(2);
    wg.done();
    CHECK_THROWS_AS(wg.add(-2), std::logic_error);  // 1 - 2 < 0: refused, counter stays 1
    goro::chan<int> passed(1);
    goro::go([&] {
      wg.wait();
      passed.send(1);
    });
    REQUIRE(wait_parked("sync.WaitGroup.Wait"));
    CHECK(!passed.try_recv());
    wg.done();  // 1 -> 0
    passed.recv();
    CHECK_THROWS_AS(wg.done(), std::logic_error);
    wg.add(1);
    goro::go([&] { wg.done(); });
    wg.wait();
  });
}

// A done() that would make the counter negative throws and must leave no trace. Before the fix
// it published the negative counter and then undid it; a wait() in between took the counter for
// nonzero, registered as a waiter, and was never woken (counter 0, one waiter, for good: a
// deadlock once the thread is done). A thread calls done() over and over while main calls
// wait() over and over; the failure showed within a few thousand calls.
TEST_CASE("WaitGroup: a refused done() racing with wait() does not leave the waiter hanging") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      const long calls = scaled(80000);
      goro::WaitGroup wg;  // its counter stays 0 throughout
      std::atomic<long> refused{0};
      std::atomic<bool> started{false}, finished{false};
      std::thread t([&] {
        started = true;
        for (long i = 0; i < calls; ++i) {
          try {
            wg.done();
          } catch (const std::logic_error&) {
            ++refused;
          }
        }
        finished = true;
      });
      while (!started.load()) {
      }
      while (!finished.load()) wg.wait();
      t.join();
      CHECK(refused.load() == calls);
    });
  });
}

TEST_CASE("WaitGroup: plain threads wait and are waited for, with and without a runtime") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::WaitGroup wg;
      std::atomic<long> work{0};
      wg.add(4);
      std::vector<std::thread> threads;
      std::atomic<long> registered{0};
      for (int t = 0; t < 2; ++t)
        threads.emplace_back([&] {
          goro::go([] {});  // known to the deadlock detector as a possible waker from here on
          ++registered;
          std::this_thread::sleep_for(5ms);
          ++work;
          wg.done();
        });
      REQUIRE(wait_count(registered, 2));
      for (int g = 0; g < 2; ++g)
        goro::go([&] {
          goro::sleep_for(5ms);
          ++work;
          wg.done();
        });
      std::atomic<long> thread_saw{0};
      std::thread waiter([&] {
        wg.wait();
        thread_saw = work.load();
      });
      wg.wait();
      CHECK(work.load() == 4);
      waiter.join();
      CHECK(thread_saw.load() == 4);
      for (auto& t : threads) t.join();
    });
  });
  goro::WaitGroup wg;
  wg.add(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&] {
      std::this_thread::sleep_for(5ms);
      wg.done();
    });
  wg.wait();
  for (auto& t : threads) t.join();
}

// ---------------------------------------------------------------------------------------------
// Once

TEST_CASE("Once: f runs exactly once under races; callers return only after it finished") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      for (int round = 0; round < 20; ++round) {
        goro::Once once;
        std::atomic<long> runs{0}, saw_effect{0}, finished{0};
        int effect = 0;  // plain: call() must order f's writes before every caller's return
        constexpr int kCallers = 32;
        for (int i = 0; i < kCallers; ++i)
          goro::go([&] {
            once.call([&] {
              ++runs;
              if (round % 2) goro::sleep_for(1ms);  // others arrive while f runs
              else goro::yield();
              effect = 42;
            });
            if (effect == 42) ++saw_effect;
            ++finished;
          });
        REQUIRE(wait_count(finished, kCallers));
        CHECK(runs.load() == 1);
        CHECK(saw_effect.load() == kCallers);
        once.call([&] { ++runs; });
        CHECK(runs.load() == 1);
      }
    });
  });
}

TEST_CASE("Once: an exception propagates and the next caller runs f again") {
  goro::run([] {
    goro::Once once;
    int calls = 0;
    CHECK_THROWS_AS(once.call([&] {
      ++calls;
      throw std::runtime_error("first");
    }), std::runtime_error);
    CHECK_THROWS_WITH(once.call([&] {
      ++calls;
      throw std::runtime_error("second");
    }), "second");
    once.call([&] { ++calls; });
    once.call([&] { ++calls; });
    CHECK(calls == 3);
  });
  // Concurrent callers: while f runs and throws, the waiters wait; then one of them retries.
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::Once once;
      std::atomic<long> attempts{0}, threw{0}, ok{0}, finished{0};
      int effect = 0;
      constexpr int kCallers = 24;
      for (int i = 0; i < kCallers; ++i)
        goro::go([&] {
          try {
            once.call([&] {
              const long n = ++attempts;
              goro::sleep_for(2ms);
              if (n <= 2) throw std::runtime_error("not yet");
              effect = 7;
            });
            if (effect == 7) ++ok;
          } catch (const std::runtime_error&) {
            ++threw;
          }
          ++finished;
        });
      REQUIRE(wait_count(finished, kCallers));
      CHECK(attempts.load() == 3);
      CHECK(threw.load() == 2);  // only the callers that ran the failing f see its exception
      CHECK(ok.load() == kCallers - 2);
    });
  });
}

TEST_CASE("Once: plain threads and goroutines, with and without a runtime") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::Once once;
      std::atomic<long> runs{0}, saw{0}, finished{0};
      int effect = 0;
      auto caller = [&] {
        once.call([&] {
          ++runs;
          std::this_thread::sleep_for(2ms);  // blocks whatever runs it
          effect = 1;
        });
        if (effect == 1) ++saw;
        ++finished;
      };
      std::vector<std::thread> threads;
      for (int t = 0; t < 3; ++t) threads.emplace_back(caller);
      for (int g = 0; g < 8; ++g) goro::go(caller);
      REQUIRE(wait_count(finished, 11));
      for (auto& t : threads) t.join();
      CHECK(runs.load() == 1);
      CHECK(saw.load() == 11);
    });
  });
  goro::Once once;
  std::atomic<long> runs{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&] { once.call([&] { ++runs; }); });
  for (auto& t : threads) t.join();
  CHECK(runs.load() == 1);
}

// ---------------------------------------------------------------------------------------------
// Cond

TEST_CASE("Cond: signal wakes exactly one waiter, broadcast wakes all (Go's TestCondSignal, TestCondBroadcast)") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::Mutex mu;
      goro::Cond cond(mu);
      constexpr int n = 8;
      int waiting = 0;
      goro::chan<int> awake(n);
      for (int i = 0; i < n; ++i)
        goro::go([&, i] {
          std::lock_guard lock(mu);
          ++waiting;
          cond.wait();
          awake.send(i);
        });
      // Each waiter counted itself under the lock before wait(): once all have, all wait. (We
      // yield holding the lock: the waiters queue on the Mutex and must still all get in.)
      const auto give_up = Clock::now() + 20s;
      for (;;) {
        std::lock_guard lock(mu);
        if (waiting == n) break;
        REQUIRE(Clock::now() < give_up);
        goro::yield();
      }
      for (int i = 0; i < n / 2; ++i) {
        cond.signal();
        awake.recv();
        goro::sleep_for(10ms);  // had signal woken more than one, it would show up here
        CHECK(!awake.try_recv());
      }
      cond.broadcast();
      for (int i = 0; i < n - n / 2; ++i) awake.recv();
      cond.signal();     // nobody waits: nothing happens, and it is not remembered
      cond.broadcast();
      goro::chan<int> late(1);
      goro::go([&] {
        std::lock_guard lock(mu);
        cond.wait();
        late.send(1);
      });
      REQUIRE(wait_parked("sync.Cond.Wait"));
      CHECK(!late.try_recv());
      cond.signal();
      late.recv();
    });
  });
}

// As with std::condition_variable, a Cond may be destroyed once every waiter is notified, even
// before they return from wait(). At procs 1 the woken waiter runs only once main blocks, after
// the Cond is gone: before the fix its wait() re-locked the mutex through the destroyed Cond.
TEST_CASE("Cond: may be destroyed once every waiter is notified, before they return") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::Mutex mu;
      auto* cond = new goro::Cond(mu);
      bool ready = false;
      goro::chan<int> back(1);
      goro::go([&] {
        {
          std::unique_lock lock(mu);
          while (!ready) cond->wait();
        }
        back.send(1);
      });
      REQUIRE(wait_parked("sync.Cond.Wait"));
      {
        std::lock_guard lock(mu);
        ready = true;
        cond->broadcast();
      }
      void* reused = destroy_and_reuse(cond);
      back.recv();
      ::operator delete(reused);
    });
  });
}

TEST_CASE("Cond: signal wakes waiters in the order they began waiting (Go's TestCondSignalGenerations)") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::Mutex mu;
      goro::Cond cond(mu);
      constexpr int n = 50;
      goro::chan<int> running, awake;
      for (int i = 0; i < n; ++i) {
        goro::go([&, i] {
          std::unique_lock lock(mu);
          running.send(i);  // still holding mu: the next one cannot start waiting before us
          cond.wait();
          lock.unlock();
          awake.send(i);
        });
        CHECK(running.recv() == i);
      }
      for (int i = 0; i < n; ++i) {
        cond.signal();
        CHECK(awake.recv() == i);
      }
    });
  });
}

TEST_CASE("Cond: no wake-up is lost between unlocking and blocking (stress)") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      // Ping-pong on one Cond: every round trip depends on a signal sent right after the other
      // side unlocked. A lost signal leaves both waiting: a deadlock, which run reports.
      goro::Mutex mu;
      goro::Cond cond(mu);
      long turn = 0;
      const long rounds = scaled(20000);
      std::atomic<long> finished{0};
      for (int side = 0; side < 2; ++side)
        goro::go([&, side] {
          for (long r = 0; r < rounds; ++r) {
            std::unique_lock lock(mu);
            while (turn % 2 != side) cond.wait();
            ++turn;
            cond.signal();
          }
          ++finished;
        });
      REQUIRE(wait_count(finished, 2));
      CHECK(turn == 2 * rounds);

      // A bounded queue: producers and consumers on two conditions, many of each.
      goro::Cond not_empty(mu), not_full(mu);
      std::vector<long> queue;
      long consumed = 0, sum = 0;
      const long per = scaled(5000);
      constexpr int kProducers = 4, kConsumers = 4;
      std::atomic<long> done{0};
      for (int p = 0; p < kProducers; ++p)
        goro::go([&] {
          for (long i = 1; i <= per; ++i) {
            std::unique_lock lock(mu);
            while (queue.size() >= 4) not_full.wait();
            queue.push_back(i);
            not_empty.signal();
          }
          ++done;
        });
      for (int k = 0; k < kConsumers; ++k)
        goro::go([&] {
          for (;;) {
            std::unique_lock lock(mu);
            while (queue.empty() && consumed < kProducers * per) not_empty.wait();
            if (consumed == kProducers * per) {
              not_empty.broadcast();  // let the other consumers see the end
              break;
            }
            sum += queue.back();
            queue.pop_back();
            ++consumed;
            not_full.signal();
            if (consumed == kProducers * per) not_empty.broadcast();
          }
          ++done;
        });
      REQUIRE(wait_count(done, kProducers + kConsumers));
      CHECK(sum == kProducers * per * (per + 1) / 2);
    });
  });
}

TEST_CASE("Cond: plain threads and goroutines wait and signal") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::Mutex mu;
      goro::Cond cond(mu);
      int generation = 0, waiting = 0;
      std::atomic<long> woken{0};
      auto waiter = [&] {
        std::unique_lock lock(mu);
        ++waiting;  // counted under the lock, before wait() takes its ticket and unlocks
        while (generation == 0) cond.wait();
        ++woken;
      };
      std::vector<std::thread> threads;
      for (int t = 0; t < 3; ++t) threads.emplace_back(waiter);
      for (int g = 0; g < 5; ++g) goro::go(waiter);
      for (;;) {
        {
          std::lock_guard lock(mu);
          if (waiting == 8) break;
        }
        goro::sleep_for(1ms);
      }
      CHECK(woken.load() == 0);
      std::thread signaller([&] {  // a plain thread wakes them all
        std::lock_guard lock(mu);
        ++generation;
        cond.broadcast();
      });
      REQUIRE(wait_count(woken, 8));
      signaller.join();
      for (auto& t : threads) t.join();

      // A thread waits, a goroutine signals; then the other way round.
      bool flag = false;
      std::thread t([&] {
        std::unique_lock lock(mu);
        while (!flag) cond.wait();
        flag = false;
        cond.signal();
      });
      goro::sleep_for(5ms);
      {
        std::unique_lock lock(mu);
        flag = true;
        cond.signal();
        while (flag) cond.wait();
      }
      t.join();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Semaphore

TEST_CASE("Semaphore: weighted acquire, release and try_acquire") {
  goro::run([] {
    goro::Semaphore sem(10);
    sem.acquire(3);
    sem.acquire(7);
    CHECK(!sem.try_acquire());
    CHECK(sem.try_acquire(0));
    sem.release(3);
    CHECK(!sem.try_acquire(4));
    CHECK(sem.try_acquire(3));
    sem.release(10);
    CHECK(sem.try_acquire(10));
    sem.release(5);
    sem.release(5);
    goro::chan<int> got(1);
    sem.acquire(6);
    goro::go([&] {
      sem.acquire(5);
      got.send(1);
    });
    REQUIRE(wait_parked("semaphore acquire"));
    CHECK(!got.try_recv());
    sem.release(1);  // 5 free now
    got.recv();
    sem.release(10);
  });
}

TEST_CASE("Semaphore: never more units out than it has (stress, goroutines and threads)") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      constexpr std::int64_t kSize = 10;
      goro::Semaphore sem(kSize);
      std::atomic<std::int64_t> out{0};
      std::atomic<long> over{0}, finished{0};
      const long per = scaled(4000);
      auto worker = [&](int seed) {
        for (long i = 0; i < per; ++i) {
          const std::int64_t n = 1 + (seed * 7 + i) % 4;
          if (i % 5 == 0) {
            if (!sem.try_acquire(n)) continue;
          } else {
            sem.acquire(n);
          }
          if (out.fetch_add(n) + n > kSize) ++over;
          if (i % 11 == 0) goro::yield();
          out.fetch_sub(n);
          sem.release(n);
        }
        ++finished;
      };
      std::thread t(worker, 99);
      for (int g = 0; g < 12; ++g) goro::go(worker, g);
      REQUIRE(wait_count(finished, 13));
      t.join();
      CHECK(over.load() == 0);
      CHECK(sem.try_acquire(kSize));  // everything came back
    });
  });
}

// FIFO: the oldest waiter is served first, and while it cannot be, nobody behind it is —
// shown without timing.
TEST_CASE("Semaphore: a large acquire is served before later small ones") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::Semaphore sem(10);
      std::atomic<int> order{0}, big_at{-1}, small_at{-1};
      goro::chan<int> done(2);
      sem.acquire(1);
      goro::go([&] {
        sem.acquire(10);
        big_at = order++;
        sem.release(10);
        done.send(1);
      });
      REQUIRE(wait_parked("semaphore acquire"));
      CHECK(!sem.try_acquire(1));  // 9 are free, but the big one is first in line
      goro::go([&] {
        sem.acquire(2);
        small_at = order++;
        sem.release(2);
        done.send(1);
      });
      REQUIRE(wait_parked("semaphore acquire", 2));
      CHECK(big_at.load() == -1);
      CHECK(small_at.load() == -1);
      sem.release(1);
      done.recv();
      done.recv();
      CHECK(big_at.load() == 0);
      CHECK(small_at.load() == 1);
    });
  });
}

// The same with a stream of small acquirers that keep units busy all the time (x/sync's
// TestLargeAcquireDoesntStarve): the large acquire gets through within a generous bound.
TEST_CASE("Semaphore: a large acquire is not starved by a stream of small ones") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      constexpr std::int64_t kSize = 8;
      goro::Semaphore sem(kSize);
      std::atomic<bool> stop{false};
      std::atomic<long> smalls_done{0}, small_rounds{0};
      const auto give_up = Clock::now() + 10s;
      for (int g = 0; g < 2 * kSize; ++g)
        goro::go([&, g] {
          while (!stop && Clock::now() < give_up) {
            sem.acquire(1);
            ++small_rounds;
            if (g % 2) goro::sleep_for(50us);
            else goro::yield();
            sem.release(1);
          }
          ++smalls_done;
        });
      REQUIRE(wait_count(small_rounds, 100));
      const auto start = Clock::now();
      sem.acquire(kSize);
      const auto waited = Clock::now() - start;
      sem.release(kSize);
      stop = true;
      REQUIRE(wait_count(smalls_done, 2 * kSize));
      CHECK(waited < 5s);  // starved, it would wait for the 10 s give-up
    });
  });
}

TEST_CASE("Semaphore: misuse throws, and the semaphore stays usable") {
  CHECK_THROWS_AS(goro::Semaphore(-1), std::invalid_argument);
  goro::run([] {
    goro::Semaphore sem(4);
    CHECK_THROWS_AS(sem.acquire(5), std::invalid_argument);  // could never be satisfied
    CHECK_THROWS_AS(sem.acquire(-1), std::invalid_argument);
    CHECK(!sem.try_acquire(5));
    CHECK(!sem.try_acquire(-1));
    CHECK_THROWS_AS(sem.release(1), std::logic_error);  // nothing held
    sem.acquire(2);
    CHECK_THROWS_AS(sem.release(3), std::logic_error);
    CHECK_THROWS_WITH_AS(sem.release(-1), "goro: Semaphore::release of a negative amount", std::invalid_argument);
    sem.release(2);
    CHECK(sem.try_acquire(4));
    sem.release(4);
  });
}

TEST_CASE("Semaphore: plain threads, with and without a runtime") {
  goro::run([] {
    goro::Semaphore sem(1);
    sem.acquire();
    std::atomic<bool> got{false};
    std::thread t([&] {
      sem.acquire();
      got = true;
      sem.release();
    });
    goro::sleep_for(20ms);
    CHECK(!got.load());
    sem.release();
    t.join();
    CHECK(got.load());
  });
  goro::Semaphore sem(2);
  std::atomic<int> out{0}, over{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        sem.acquire();
        if (++out > 2) ++over;
        --out;
        sem.release();
      }
    });
  for (auto& t : threads) t.join();
  CHECK(over.load() == 0);
}

// ---------------------------------------------------------------------------------------------
// A goroutine stuck on a primitive is a deadlock, reported with the primitive's wait reason.

TEST_CASE("deadlock on each primitive is reported with its wait reason") {
  struct Case {
    const char* reason;
    void (*main)();
  };
  const Case cases[] = {
      {"sync.Mutex.Lock",
       [] {
         goro::Mutex mu;
         mu.lock();
         mu.lock();
       }},
      {"sync.RWMutex.Lock",
       [] {
         goro::RWMutex rw;
         rw.lock_shared();
         rw.lock();
       }},
      {"sync.RWMutex.RLock",
       [] {
         goro::RWMutex rw;
         rw.lock();
         rw.lock_shared();
       }},
      {"sync.WaitGroup.Wait",
       [] {
         goro::WaitGroup wg;
         wg.add(1);
         wg.wait();
       }},
      {"sync.Cond.Wait",
       [] {
         goro::Mutex mu;
         goro::Cond cond(mu);
         std::lock_guard lock(mu);
         cond.wait();
       }},
      {"sync.Once.Do",
       [] {
         goro::Once once;
         once.call([&] { once.call([] {}); });  // f calls its own Once
       }},
      {"semaphore acquire",
       [] {
         goro::Semaphore sem(1);
         sem.acquire();
         sem.acquire();
       }},
  };
  each_procs([&](goro::Config c) {
    for (const Case& k : cases) {
      CAPTURE(k.reason);
      const std::string report = deadlock_report(c, k.main);
      INFO(report);
      CHECK(starts_with(report, "all goroutines are asleep - deadlock!"));
      CHECK(contains(report, std::string("goroutine 1 [") + k.reason + ", "));
    }
  });
}

TEST_CASE("no deadlock while the holder of a Mutex sleeps or a plain thread will release it") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      goro::Mutex mu;
      goro::chan<int> holding;
      goro::go([&] {
        mu.lock();
        holding.send(1);
        goro::sleep_for(250ms);  // longer than the deadlock detector's grace period
        mu.unlock();
      });
      holding.recv();
      mu.lock();  // every goroutine is blocked, but a timer is pending
      mu.unlock();

      goro::WaitGroup wg;
      wg.add(1);
      std::atomic<bool> registered{false};
      std::thread t([&] {
        goro::go([] {});  // a plain thread that uses goro counts as a possible waker from now on
        registered = true;
        std::this_thread::sleep_for(250ms);
        wg.done();
      });
      while (!registered) goro::yield();
      wg.wait();
      t.join();
    });
  });
}

TEST_CASE("no deadlock while a plain thread holds a Mutex, RWMutex or Semaphore, or runs a Once") {
  // The thread took each one on its fast path (no waiting): holding it is using goro, so the
  // goroutine blocked on it is not deadlocked. The thread lets go after 400 ms whatever run()
  // did, so it is joined, and the primitives freed, after run() returns.
  struct Shared {
    goro::Mutex mu;
    goro::RWMutex rw;
    goro::Semaphore sem{1};
    goro::Once once;
    std::atomic<int> held{0};
  };
  enum Kind { mutex, rwmutex_read, rwmutex_write, semaphore, once };
  for (Kind kind : {mutex, rwmutex_read, rwmutex_write, semaphore, once}) {
    CAPTURE(kind);
    Shared shared;
    Shared* s = &shared;
    std::thread holder;
    std::string error;
    try {
      goro::run([s, kind, &holder] {
        holder = std::thread([s, kind] {
          switch (kind) {
            case mutex: s->mu.lock(); break;
            case rwmutex_read: s->rw.lock_shared(); break;
            case rwmutex_write: s->rw.lock(); break;
            case semaphore: s->sem.acquire(); break;
            case once:
              s->once.call([s] {
                s->held = 1;
                std::this_thread::sleep_for(400ms);
              });
              return;
          }
          s->held = 1;
          std::this_thread::sleep_for(400ms);  // longer than the deadlock detector's grace
          switch (kind) {
            case mutex: s->mu.unlock(); break;
            case rwmutex_read: s->rw.unlock_shared(); break;
            case rwmutex_write: s->rw.unlock(); break;
            case semaphore: s->sem.release(); break;
            case once: break;
          }
        });
        while (!s->held) goro::yield();
        switch (kind) {
          case mutex: s->mu.lock(); s->mu.unlock(); break;
          case rwmutex_read:
          case rwmutex_write: s->rw.lock(); s->rw.unlock(); break;
          case semaphore: s->sem.acquire(); s->sem.release(); break;
          case once: s->once.call([] {}); break;
        }
      });
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (holder.joinable()) holder.join();
    CHECK(error == "");
  }
}

TEST_CASE("no deadlock while a plain thread that released a Semaphore, signalled a Cond or called done() will again") {
  // The thread's first goro call wakes nobody: nobody waits yet. It is a goro call all the same
  // (README: a plain thread counts as a possible waker from its first one), so the goroutine
  // that then blocks, waiting for the thread's second call, is not deadlocked.
  struct Shared {
    goro::Semaphore sem{2};
    goro::Mutex mu;
    goro::Cond cond{mu};
    bool ready = false;
    goro::WaitGroup wg;
    std::atomic<bool> registered{false};
  };
  enum Kind { semaphore, cond_signal, cond_broadcast, waitgroup };
  for (Kind kind : {semaphore, cond_signal, cond_broadcast, waitgroup}) {
    CAPTURE(kind);
    Shared shared;
    Shared* s = &shared;
    std::thread waker;
    std::string error;
    try {
      goro::run([s, kind, &waker] {
        if (kind == semaphore) s->sem.acquire(2);
        if (kind == waitgroup) s->wg.add(2);
        waker = std::thread([s, kind] {
          auto wake = [s, kind] {
            switch (kind) {
              case semaphore: s->sem.release(); break;
              case cond_signal: s->cond.signal(); break;
              case cond_broadcast: s->cond.broadcast(); break;
              case waitgroup: s->wg.done(); break;
            }
          };
          wake();  // nobody waits yet
          s->registered = true;
          std::this_thread::sleep_for(400ms);  // longer than the deadlock detector's grace
          if (kind == cond_signal || kind == cond_broadcast) {
            std::lock_guard lock(s->mu);
            s->ready = true;
          }
          wake();
        });
        while (!s->registered) goro::yield();
        switch (kind) {
          case semaphore: s->sem.acquire(2); break;
          case cond_signal:
          case cond_broadcast: {
            std::unique_lock lock(s->mu);
            while (!s->ready) s->cond.wait();
            break;
          }
          case waitgroup: s->wg.wait(); break;
        }
      });
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (waker.joinable()) waker.join();
    CHECK(error == "");
  }
}

// Goroutines abandoned inside a primitive when run returns, still queued or woken but not yet
// run, must not leave it wedged for its next users: a later run, or plain threads. Teardown
// settles their calls as if never made (runtime/sched/settle.hpp, sync/waitlist.hpp).
TEST_CASE("a WaitGroup whose waiter was abandoned does not let the next wait() return early") {
  goro::WaitGroup wg;  // outlives the runtime
  wg.add(1);
  goro::run([&] {
    goro::go([&] { wg.wait(); });
    REQUIRE(wait_parked("sync.WaitGroup.Wait"));
  });
  wg.done();  // from a plain thread, after the run: nobody waits any more
  goro::run([&] {
    wg.add(1);
    std::atomic<bool> finished{false};
    goro::go([&] {
      goro::sleep_for(20ms);
      finished = true;
      wg.done();
    });
    wg.wait();  // before the fix: took the abandoned waiter's token and threw "reused"
    CHECK(finished.load());
  });
}

TEST_CASE("an RWMutex whose queued reader was abandoned lets the next writer in, and excludes readers") {
  goro::RWMutex rw;  // outlives the runtime
  goro::run([&] {
    rw.lock();
    goro::go([&] { std::shared_lock lock(rw); });
    REQUIRE(wait_parked("sync.RWMutex.RLock"));
  });
  rw.unlock();  // from a plain thread, after the run
  goro::run([&] {
    rw.lock();  // before the fix: waited for the abandoned reader to leave, a deadlock_error
    std::atomic<bool> writing{true};
    goro::chan<bool> saw_writing;
    goro::go([&] {
      std::shared_lock lock(rw);
      saw_writing.send(writing.load());
    });
    goro::sleep_for(20ms);  // the reader queues behind the writer
    writing = false;
    rw.unlock();
    CHECK(saw_writing.recv() == false);
  });
}

TEST_CASE("Cond: a waiter abandoned by a stopped runtime does not swallow a later signal") {
  goro::Mutex mu;  // both outlive the runtime
  goro::Cond cond(mu);
  goro::run([&] {
    goro::go([&] {
      std::lock_guard lock(mu);
      cond.wait();
    });
    REQUIRE(wait_parked("sync.Cond.Wait"));
  });  // the goroutine is abandoned in the Cond, with its ticket
  std::atomic<int> stage{0};
  std::thread waiter([&] {
    std::unique_lock lock(mu);
    stage = 1;
    while (stage == 1) cond.wait();
    stage = 3;
  });
  while (stage.load() < 1) std::this_thread::yield();
  {
    std::lock_guard lock(mu);  // the thread is inside wait() now
    stage = 2;
    cond.signal();  // Go: "wakes one goroutine waiting on c, if there is any"
  }
  const auto until = Clock::now() + 2s;
  while (stage.load() != 3 && Clock::now() < until) std::this_thread::sleep_for(1ms);
  CHECK(stage.load() == 3);
  if (stage.load() != 3) {  // before the fix: the signal went to the abandoned ticket
    std::lock_guard lock(mu);
    cond.broadcast();
  }
  waiter.join();
}

TEST_CASE("Cond: waiters behind one abandoned by a stopped runtime are still signalled oldest first") {
  goro::Mutex mu;  // all outlive the runtime
  goro::Cond cond(mu);
  std::atomic<int> queued{0}, first{0};
  auto waiter = [&](int id) {
    std::unique_lock lock(mu);
    queued = id;
    cond.wait();
    int none = 0;
    first.compare_exchange_strong(none, id);
  };
  std::thread older, newer;
  goro::run([&] {
    goro::go([&] {
      std::lock_guard lock(mu);
      cond.wait();
    });
    REQUIRE(wait_parked("sync.Cond.Wait"));
    // Each thread is queued once we can lock the mutex after it said so: wait() unlocks it only
    // once queued.
    for (int id : {1, 2}) {
      (id == 1 ? older : newer) = std::thread(waiter, id);
      while (queued.load() != id) goro::yield();
      std::lock_guard lock(mu);
    }
  });  // the goroutine is abandoned in the Cond, ahead of the threads
  {
    std::lock_guard lock(mu);
    cond.signal();  // Go's notifyList: the longest waiting goes first
  }
  const auto until = Clock::now() + 10s;
  while (first.load() == 0 && Clock::now() < until) std::this_thread::sleep_for(1ms);
  CHECK(first.load() == 1);  // before the fix: the newer thread had taken the abandoned ticket
  {
    std::lock_guard lock(mu);
    cond.broadcast();
  }
  older.join();
  newer.join();
}

// At procs 1 a goroutine readied by main cannot run before main returns: it is abandoned woken.
goro::Config one_proc() {
  goro::Config c;
  c.procs = 1;
  return c;
}

TEST_CASE("an RWMutex reader let in by unlock() but abandoned before it ran leaves again") {
  goro::RWMutex rw;  // outlives the runtime
  goro::run(one_proc(), [&] {
    rw.lock();
    goro::go([&] { std::shared_lock lock(rw); });
    REQUIRE(wait_parked("sync.RWMutex.RLock"));
    rw.unlock();  // counts the reader in and readies it
  });
  const bool locked = rw.try_lock();  // before the fix: the reader stayed counted
  CHECK(locked);
  if (locked) rw.unlock();
}

TEST_CASE("an RWMutex writer abandoned while readers were in gives the lock up when they leave") {
  goro::RWMutex rw;  // outlives the runtime
  rw.lock_shared();  // this thread reads
  goro::run([&] {
    goro::go([&] { rw.lock(); });
    REQUIRE(wait_parked("sync.RWMutex.Lock"));  // waits for this thread to leave
  });
  rw.unlock_shared();  // the last reader out: unlocks for the abandoned writer
  const bool locked = rw.try_lock();
  CHECK(locked);
  if (locked) rw.unlock();
  const bool reading = rw.try_lock_shared();
  CHECK(reading);
  if (reading) rw.unlock_shared();
}

// The same, but the RWMutex's unlock for the gone writer, made while settling it (under the lock
// of the writers' wait list), finds a next writer in behind it with no reader queued: unlock()
// then releases that wait list itself. A plain thread is the last reader out, paused before it
// releases the gone writer (so settling owes that release and unlocks); another plain thread is
// the next writer, let in by that unlock before it adds kMaxReaders back. Before the fix the
// unlock took the list's lock again, already held by settling: teardown spun for ever (the
// child is killed by its alarm).
GORO_CHILD("rwmutex-gone-writer-unlocks-for-a-next-writer") {
  ::alarm(30);
  static goro::RWMutex rw;  // outlives the runtime
  FencePause pause;
  std::atomic<int> reader_stage{0};
  std::atomic<bool> next_locked{false};
  std::thread reader([&] {
    rw.lock_shared();
    reader_stage = 1;
    while (reader_stage.load() < 2) std::this_thread::yield();
    fence_pause = &pause;
    rw.unlock_shared();  // the last reader out: its release of the writer pauses at its fence
  });
  std::thread next;
  goro::run([&] {
    if (!eventually([&] { return reader_stage.load() == 1; })) std::abort();
    goro::go([] { rw.lock(); });  // abandoned while it waits for the reader
    if (!wait_parked("sync.RWMutex.Lock")) std::abort();
    next = std::thread([&] {
      rw.lock();  // waits for the abandoned writer's writer_, then for the readers
      next_locked = true;
      rw.unlock();
    });
    reader_stage = 2;
    if (!eventually([&] { return pause.paused.load(); })) std::abort();
    writer_released_armed = true;  // the unlock while settling lets `next` in before its add
  });
  pause.go = true;  // the reader's release goes to `next`
  reader.join();
  next.join();
  if (!next_locked) return 1;
  if (!rw.try_lock()) return 2;
  rw.unlock();
  if (!rw.try_lock_shared()) return 3;
  rw.unlock_shared();
  return 0;
}

TEST_CASE("an RWMutex writer abandoned while a reader leaves unlocks for a next writer without hanging the end of the run") {
  CHECK_CHILD_SUCCEEDS("rwmutex-gone-writer-unlocks-for-a-next-writer");
}

TEST_CASE("an RWMutex writer let in by the last reader but abandoned before it ran unlocks") {
  goro::RWMutex rw;  // outlives the runtime
  goro::run(one_proc(), [&] {
    rw.lock_shared();
    goro::go([&] { rw.lock(); });
    REQUIRE(wait_parked("sync.RWMutex.Lock"));
    rw.unlock_shared();  // the last reader out: readies the writer
  });
  const bool reading = rw.try_lock_shared();  // before the fix: write-locked by nobody
  CHECK(reading);
  if (reading) rw.unlock_shared();
  const bool locked = rw.try_lock();
  CHECK(locked);
  if (locked) rw.unlock();
}

TEST_CASE("a Semaphore waiter abandoned at the front lets the waiters behind it in") {
  goro::Semaphore sem(10);  // outlives the runtime
  std::atomic<bool> got{false};
  std::thread t;
  goro::run([&] {
    sem.acquire(5);  // held across the run's end: 5 units stay free
    goro::go([&] { sem.acquire(10); });  // does not fit: queues, first
    REQUIRE(wait_parked("semaphore acquire"));
    t = std::thread([&] {
      sem.acquire(1);  // fits, but FIFO: queues behind the goroutine
      got = true;
      sem.release(1);
    });
    goro::sleep_for(50ms);  // the thread queues
  });
  const auto until = Clock::now() + 2s;
  while (!got && Clock::now() < until) std::this_thread::sleep_for(1ms);
  CHECK(got.load());  // before the fix: blocked for good, with 5 units free
  sem.release(5);
  t.join();
}

TEST_CASE("a Semaphore waiter granted its units but abandoned before it ran gives them back") {
  goro::Semaphore sem(1);  // outlives the runtime
  goro::run(one_proc(), [&] {
    sem.acquire(1);
    goro::go([&] { sem.acquire(1); });
    REQUIRE(wait_parked("semaphore acquire"));
    sem.release(1);  // grants the unit to the goroutine and readies it
  });
  const bool got = sem.try_acquire(1);  // before the fix: the unit went with the goroutine
  CHECK(got);
  if (got) sem.release(1);
}

TEST_CASE("Mutex: a waiter woken just before the runtime stops does not break it for later") {
  // The woken waiter took on clearing kWoken; until someone does, no unlock wakes anybody.
  each_procs([](goro::Config c) {
    auto* mu = new goro::Mutex;  // leaked if the thread is stuck on it (it would outlive it)
    goro::run(c, [mu] {
      mu->lock();
      goro::go([mu] {
        mu->lock();
        mu->unlock();
      });
      REQUIRE(wait_parked("sync.Mutex.Lock"));
      mu->unlock();  // wakes the goroutine; main returns before it runs
    });
    auto* stage = new std::atomic<int>{0};
    mu->lock();
    std::thread t([mu, stage] {
      *stage = 1;
      mu->lock();
      *stage = 2;
      mu->unlock();
    });
    while (stage->load() < 1) std::this_thread::yield();
    std::this_thread::sleep_for(20ms);  // let it block
    mu->unlock();
    const auto until = Clock::now() + 2s;
    while (stage->load() < 2 && Clock::now() < until) std::this_thread::sleep_for(1ms);
    CHECK(stage->load() == 2);
    if (stage->load() == 2) {
      t.join();
      delete stage;
      delete mu;
    } else {
      t.detach();  // before the fix: asleep in lock() for good
    }
  });
}

// From main at procs 1: leaves `mu` locked by main, in starvation mode, with one goroutine queued.
// That goroutine sets `took`, if given, once it has the mutex.
void hold_starving_with_one_waiter(goro::Mutex& mu, std::atomic<bool>* took = nullptr) {
  mu.lock();
  goro::go([&mu, took] {
    mu.lock();
    if (took) *took = true;
    mu.unlock();
  });
  REQUIRE(wait_parked("sync.Mutex.Lock"));
  std::this_thread::sleep_for(2ms);  // the waiter has now waited more than 1 ms
  mu.unlock();    // wakes it
  mu.lock();      // and takes the mutex again before it runs
  goro::yield();  // it runs, finds the mutex taken, switches it to starvation mode, requeues
  REQUIRE(wait_parked("sync.Mutex.Lock"));
}

TEST_CASE("Mutex: one handed over in starvation mode to a goroutine that never ran is unlocked") {
  goro::Mutex mu;  // outlives the runtime
  goro::run(one_proc(), [&] {
    hold_starving_with_one_waiter(mu);
    std::thread([&] { mu.unlock(); }).join();  // hands the mutex to it, through the global queue
  });
  const bool locked = mu.try_lock();  // before the fix: handed to a goroutine that never took it
  CHECK(locked);
  if (locked) mu.unlock();
}

TEST_CASE("a Cond or WaitGroup that woke its goroutine may go before the goroutine ran") {
  // Allowed as for std::condition_variable: every waiter is notified. The goroutine never runs
  // (procs 1, main returns first), and settling it must not touch what is gone. Under ASan a
  // touch is a heap-use-after-free.
  goro::Mutex mu;
  goro::run(one_proc(), [&] {
    auto* cond = new goro::Cond(mu);
    goro::go([&mu, cond] {
      std::lock_guard lock(mu);
      cond->wait();
    });
    REQUIRE(wait_parked("sync.Cond.Wait"));
    cond->broadcast();
    delete cond;  // and main returns at once: the goroutine must not run (it would use cond)
  });
  goro::run(one_proc(), [&] {
    auto* wg = new goro::WaitGroup;
    wg->add(1);
    goro::go([wg] { wg->wait(); });
    REQUIRE(wait_parked("sync.WaitGroup.Wait"));
    wg->done();
    delete wg;
  });
}

// unlock() is no scheduling point (README, "No preemption"), not even a starving Mutex's
// hand-off: the caller may hold a std::mutex or a thread-local reference across it. Before the
// fix the hand-off yielded to the waiter, which ran before unlock() returned (and the caller
// came back, at procs > 1, possibly on another thread).
TEST_CASE("Mutex: a starving unlock hands the mutex over without running the waiter") {
  goro::run(one_proc(), [] {
    goro::Mutex mu;
    std::atomic<bool> took{false};
    hold_starving_with_one_waiter(mu, &took);
    mu.unlock();  // hands mu to the waiter, which is now in our runnext
    CHECK(!took.load());
    CHECK(!mu.try_lock());  // handed over (starvation mode), though the waiter has not run yet
    REQUIRE(eventually([&] { return took.load(); }));
    CHECK(mu.try_lock());  // the waiter was the last: normal mode again, and free
    mu.unlock();
  });
}

TEST_CASE("Mutex: a starving one whose only waiter was abandoned is normal again") {
  goro::Mutex mu;  // outlives the runtime
  goro::run(one_proc(), [&] {
    hold_starving_with_one_waiter(mu);
  });  // main returns holding mu, the waiter is settled
  mu.unlock();
  const bool locked = mu.try_lock();  // before the fix: still starving, handed to nobody
  CHECK(locked);
  if (locked) mu.unlock();
}

// A plain thread unlocks a starving Mutex (held for it by main) whose only waiter is a goroutine,
// and the run ends before the unlock has taken its WakeFence: teardown settles the waiter
// first. The unlock has already released the mutex in starvation mode, that is, committed it to
// the waiter, outside its fence. Before the fix settling uncounted the waiter and ended
// starvation mode, and the unlock then handed the mutex over anyway: to nobody, as a token. The
// next waiter took that token without being woken and counted itself twice; starvation mode then
// outlasted its real last waiter, whose unlock left the mutex free but starving. Now the mutex
// stays handed over, to whoever comes next.
//
// Leaves that unlock stopped where it takes its fence, in `unlocker`, until pause.go.
void overtake_starving_unlock(goro::Mutex& mu, FencePause& pause, std::thread& unlocker) {
  goro::run(one_proc(), [&] {
    hold_starving_with_one_waiter(mu);
    unlocker = std::thread([&] {
      fence_pause = &pause;
      mu.unlock();  // main's lock (Go allows it); stops where it takes its fence
    });
    const auto until = Clock::now() + 10s;
    while (!pause.paused && Clock::now() < until) std::this_thread::yield();
  });  // the waiter is settled while the unlock stands still
  CHECK(pause.paused.load());
}

// Starves `mu` in a run of its own and lets its last waiter have it: it must then be free, in
// normal mode. Before the fix the waiter had counted itself twice (see above), and it was not.
void starve_and_let_go(goro::Mutex& mu) {
  goro::run(one_proc(), [&] {
    std::atomic<bool> took{false};
    hold_starving_with_one_waiter(mu, &took);
    mu.unlock();  // hands mu to the waiter; it is the last, so mu is normal and free after it
    REQUIRE(eventually([&] { return took.load(); }));
    const bool locked = mu.try_lock();
    CHECK(locked);
    if (locked) mu.unlock();
  });
}

TEST_CASE("Mutex: a plain thread's starving unlock that the end of a run overtakes hands it to nobody") {
  goro::Mutex mu;  // outlives the runtime
  FencePause pause;
  std::thread unlocker;
  overtake_starving_unlock(mu, pause, unlocker);
  pause.go = true;
  unlocker.join();
  const bool taken = mu.try_lock();  // the hand-off that found nobody
  CHECK(taken);
  if (taken) mu.unlock();
  starve_and_let_go(mu);
}

TEST_CASE("Mutex: a starving unlock that the end of a run overtakes hands it to the next to come") {
  goro::Mutex mu;  // outlives the runtime
  FencePause pause;
  std::thread unlocker;
  overtake_starving_unlock(mu, pause, unlocker);
  std::atomic<int> stage{0};
  std::thread locker([&] {
    stage = 1;
    mu.lock();  // queues: the mutex is on its way to the head of the queue
    stage = 2;
    mu.unlock();
  });
  while (stage.load() < 1) std::this_thread::yield();
  std::this_thread::sleep_for(20ms);  // let it queue
  pause.go = true;  // the hand-off goes to it
  unlocker.join();
  const auto until = Clock::now() + 10s;
  while (stage.load() < 2 && Clock::now() < until) std::this_thread::sleep_for(1ms);
  CHECK(stage.load() == 2);
  locker.join();
  starve_and_let_go(mu);
}

TEST_CASE("plain threads waking goroutines while runs end (stress)") {
  // A plain thread that dequeues a goroutine waiter reads it (and a send writes into it) on the
  // goroutine's stack after the channel's or list's lock is released; teardown must not settle
  // and unmap that stack in between (sched/settle.hpp's WakeFence). Under ASan a miss is a
  // use-after-unmap; without, a crash or a lost wake-up.
  for (int round = 0; round < 30; ++round) {
    goro::chan<int> ch;
    goro::WaitGroup wg;
    goro::Semaphore sem(1);
    sem.acquire(1);
    std::atomic<bool> stop{false};
    std::thread pusher([&] {
      while (!stop) {
        int v = 1;
        ch.try_send(v);
        sem.release(1);
        sem.acquire(1);
      }
    });
    goro::run([&] {
      for (int i = 0; i < 8; ++i) {
        goro::go([&] { ch.recv(); });
        goro::go([&] {
          sem.acquire(1);
          sem.release(1);
        });
      }
      goro::sleep_for(1ms);
    });
    stop = true;
    pusher.join();
  }
}

GORO_CHILD("mutex-locked-by-a-goroutine-of-an-ended-run") {
  static goro::Mutex mu;
  goro::Config c;
  c.procs = 2;
  goro::run(c, [] { mu.lock(); });  // main's G goes when the runtime stops
  std::thread t([] {
    std::this_thread::sleep_for(50ms);
    mu.unlock();  // Go allows unlocking from another goroutine; here from another thread
  });
  mu.lock();  // contended: the slow path looks at who holds it
  mu.unlock();
  t.join();

  // The same from a goroutine of the next run, which may spin.
  static goro::Mutex mu2;
  goro::run(c, [] { mu2.lock(); });
  // Fill the address space that run left free, so the next run's G records land elsewhere and
  // the holder's G is not simply mapped again where it was.
  for (int i = 0; i < 64; ++i)
    ::mmap(nullptr, std::size_t{1} << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  std::thread t2([] {
    std::this_thread::sleep_for(20ms);
    mu2.unlock();
  });
  goro::run(c, [] {
    mu2.lock();
    mu2.unlock();
  });
  t2.join();
  return 0;
}

TEST_CASE("Mutex: locking one whose holder belonged to a run that has ended") {
  CHECK_CHILD_SUCCEEDS("mutex-locked-by-a-goroutine-of-an-ended-run");
}
