// tests/chan_test.cpp — channels: Go's semantics, element types, plain threads, stress, misuse.
#include "support.hpp"

#include <goro/chan.hpp>
#include <goro/select.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

using namespace goro_test;
using goro::chan;

namespace {

struct NoDefault {
  explicit NoDefault(int v) : value(v) {}
  NoDefault(NoDefault&&) noexcept = default;
  NoDefault& operator=(NoDefault&&) noexcept = default;
  int value;
};

struct Empty {};

// Counts live instances, to prove values are neither leaked nor destroyed twice.
struct Tracked {
  static inline std::atomic<long> live{0};
  explicit Tracked(int v) : value(v) { ++live; }
  Tracked(Tracked&& o) noexcept : value(o.value) { ++live; }
  Tracked(const Tracked&) = delete;
  ~Tracked() { --live; }
  int value;
};

}  // namespace

TEST_CASE("unbuffered send completes only when a receiver takes the value") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      chan<int> ch;
      std::atomic<bool> sent{false};
      goro::go([&] {
        ch.send(7);
        sent = true;
      });
      for (int i = 0; i < 100; ++i) goro::yield();
      CHECK(!sent);  // nobody received yet
      CHECK(ch.recv() == 7);
      while (!sent) goro::yield();
    });
  });
}

TEST_CASE("buffered channels are FIFO; len and cap") {
  goro::run([] {
    chan<int> ch(3);
    CHECK(ch.capacity() == 3);
    ch.send(1);
    ch.send(2);
    CHECK(ch.size() == 2);
    ch.send(3);
    int v = 4;
    CHECK(!ch.try_send(v));  // full
    CHECK(v == 4);           // a failed send leaves the value alone
    CHECK(ch.recv() == 1);
    CHECK(ch.try_send(v));
    CHECK(*ch.recv() == 2);
    CHECK(*ch.recv() == 3);
    CHECK(*ch.recv() == 4);
    CHECK(ch.size() == 0);
    CHECK(!ch.try_recv());
    chan<int> zero(0);
    CHECK(zero.capacity() == 0);
  });
}

TEST_CASE("FIFO order holds for each of many senders") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      constexpr int kSenders = 8;
      const int per = static_cast<int>(scaled(20000));
      for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{64}}) {
        chan<std::pair<int, int>> ch(cap);
        for (int s = 0; s < kSenders; ++s)
          goro::go([=]() mutable {
            for (int i = 0; i < per; ++i) ch.send({s, i});
          });
        std::vector<int> next(kSenders, 0);
        for (int k = 0; k < kSenders * per; ++k) {
          auto [s, i] = *ch.recv();
          CHECK(i == next[static_cast<std::size_t>(s)]);
          next[static_cast<std::size_t>(s)] = i + 1;
        }
      }
    });
  });
}

TEST_CASE("close wakes every receiver with nullopt once drained, and every sender with an error") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      chan<int> ch(2);
      ch.send(1);
      ch.send(2);
      ch.close();
      CHECK(ch.recv() == 1);  // buffered values survive close
      CHECK(ch.recv() == 2);
      CHECK(!ch.recv());
      CHECK(!ch.try_recv());

      chan<int> idle;
      std::atomic<int> receivers_done{0}, senders_threw{0};
      for (int i = 0; i < 10; ++i)
        goro::go([&] {
          CHECK(!idle.recv());
          ++receivers_done;
        });
      chan<int> full;
      for (int i = 0; i < 10; ++i)
        goro::go([&] {
          try {
            full.send(1);
          } catch (const goro::closed_channel&) {
            ++senders_threw;
          }
        });
      for (int i = 0; i < 50; ++i) goro::yield();
      idle.close();
      full.close();
      while (receivers_done < 10 || senders_threw < 10) goro::yield();
    });
  });
}

TEST_CASE("misuse: send or close on a closed channel, close of nil") {
  goro::run([] {
    chan<int> ch(1);
    ch.close();
    CHECK_THROWS_AS(ch.send(1), goro::closed_channel);
    int v = 1;
    CHECK_THROWS_AS(ch.try_send(v), goro::closed_channel);
    CHECK(v == 1);
    CHECK_THROWS_AS(ch.close(), goro::closed_channel);
    CHECK_THROWS_AS(chan<int>::nil().close(), std::logic_error);
    try {
      ch.send(1);
    } catch (const goro::closed_channel& e) {
      CHECK(std::string(e.what()).find("send on closed channel") != std::string::npos);
    }
  });
}

// Go's makechan panics "size out of range" when cap * elemsize overflows. Before the commit that
// added this test the byte count wrapped around: chan<std::uint64_t>(2^61) got a buffer of no
// bytes at all, and its sends wrote past the channel's memory.
TEST_CASE("misuse: a capacity whose buffer does not fit in memory throws") {
  CHECK_THROWS_AS(chan<std::uint64_t>(std::size_t{1} << 61), std::length_error);
  CHECK_THROWS_AS(chan<std::uint64_t>(SIZE_MAX / 8 + 2), std::length_error);  // wraps to 8 bytes
  CHECK_THROWS_AS(chan<int>(SIZE_MAX), std::length_error);
  // Counted without wrapping, but more than any object may be (PTRDIFF_MAX bytes): a length
  // error too, not the allocator's bad_alloc.
  CHECK_THROWS_AS(chan<char>(SIZE_MAX / 2), std::length_error);
  CHECK_THROWS_AS(chan<std::uint64_t>(std::size_t{1} << 60), std::length_error);
  chan<std::monostate> signals(SIZE_MAX);  // an empty type stores nothing: any capacity fits
  CHECK(signals.capacity() == SIZE_MAX);
}

TEST_CASE("non-blocking operations") {
  goro::run([] {
    chan<int> ch;
    int v = 5;
    CHECK(!ch.try_send(v));  // unbuffered, nobody receiving
    CHECK(!ch.try_recv());
    std::atomic<bool> ready{false};
    goro::go([&] {
      ready = true;
      CHECK(ch.recv() == 5);
    });
    // The receiver may run on another P and take a while to park (TSan): a fixed number of
    // yields is no proof it waits, and a failed try_send would leave it parked on a dead channel.
    while (!ready) goro::yield();
    while (!ch.try_send(v)) goro::yield();  // succeeds once the receiver is parked on it
    chan<int> nil = chan<int>::nil();
    CHECK(!nil);
    CHECK(!nil.try_send(v));
    CHECK(!nil.try_recv());
    CHECK(nil.size() == 0);
    CHECK(nil.capacity() == 0);
  });
}

TEST_CASE("element types: move-only, non-default-constructible, empty") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      chan<std::unique_ptr<int>> owned(2);
      owned.send(std::make_unique<int>(1));
      goro::go([=]() mutable { owned.send(std::make_unique<int>(2)); });
      CHECK(**owned.recv() == 1);
      CHECK(**owned.recv() == 2);
      // A move constructor not declared noexcept (as libstdc++'s std::deque's, which allocates).
      struct MayThrow {
        std::deque<int> items;
        explicit MayThrow(std::deque<int> d) : items(std::move(d)) {}
        MayThrow(MayThrow&& o) noexcept(false) : items(std::move(o.items)) {}
      };
      chan<MayThrow> deques(1);
      deques.send(MayThrow({1, 2, 3}));
      goro::go([=]() mutable { deques.send(MayThrow(std::deque<int>(5, 7))); });
      CHECK(deques.recv()->items.size() == 3);
      CHECK(deques.recv()->items.back() == 7);
      chan<int> ints(2);
      ints.send(4);
      ints.send(5);
      ints.close();
      int total = 0;
      for (const auto& v : ints) total += v;  // a const auto& binds the rvalue too
      CHECK(total == 9);
      // Range-for over move-only values, as API.md writes it: for (T v : ch).
      goro::go([=]() mutable {
        for (int i = 3; i <= 5; ++i) owned.send(std::make_unique<int>(i));
        owned.close();
      });
      int next = 3;
      for (std::unique_ptr<int> p : owned) CHECK(*p == next++);
      CHECK(next == 6);

      chan<NoDefault> nd;
      goro::go([=]() mutable { nd.send(NoDefault(9)); });
      CHECK(nd.recv()->value == 9);

      chan<std::monostate> signal(100);
      chan<Empty> empty(3);
      for (int i = 0; i < 100; ++i) signal.send({});
      CHECK(signal.size() == 100);
      empty.send(Empty{});
      CHECK(empty.recv().has_value());
      int got = 0;
      signal.close();
      for (std::monostate m : signal) {
        (void)m;
        ++got;
      }
      CHECK(got == 100);

      chan<std::string> text(1);
      std::string s = "a long string that does not fit in the small string buffer";
      text.send(s);
      CHECK(*text.recv() == s);
    });
  });
}

TEST_CASE("over-aligned elements live in aligned slots") {
  // Every value constructed in a channel's buffer (or a receiver's storage) checks its own
  // address. The checks run on the test's thread: doctest's INFO is thread-local state, which a
  // goroutine moving between threads must not use.
  struct alignas(128) Wide {
    long value;
    bool aligned = true;
    explicit Wide(long v) : value(v), aligned(reinterpret_cast<std::uintptr_t>(this) % 128 == 0) {}
    Wide(Wide&& o) noexcept
        : value(o.value), aligned(o.aligned && reinterpret_cast<std::uintptr_t>(this) % 128 == 0) {}
  };
  each_procs([](goro::Config c) {
    for (std::size_t capacity : {0, 1, 3, 100}) {
      long in_order = 0, misaligned = 0;
      goro::run(c, [&] {
        chan<Wide> ch(capacity);
        goro::go([=]() mutable {
          for (long i = 0; i < 200; ++i) ch.send(Wide(i));
          ch.close();
        });
        for (Wide w : ch) {
          if (w.value == in_order) ++in_order;
          if (!w.aligned) ++misaligned;
        }
      });
      INFO("capacity " << capacity);
      CHECK(in_order == 200);
      CHECK(misaligned == 0);
    }
  });
}

TEST_CASE("values are moved, never lost or destroyed twice") {
  Tracked::live = 0;
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      for (std::size_t cap : {std::size_t{0}, std::size_t{4}}) {
        chan<Tracked> ch(cap);
        std::atomic<long> sum{0};
        std::atomic<int> done{0};
        for (int r = 0; r < 4; ++r)
          goro::go([&, ch]() mutable {
            for (Tracked v : ch) sum += v.value;  // move-only: moved out of the channel
            ++done;
          });
        for (int i = 1; i <= 1000; ++i) ch.send(Tracked(i));
        ch.close();
        while (done < 4) goro::yield();
        CHECK(sum == 500500);
      }
      // Values still buffered when the last handle goes are destroyed with the channel.
      chan<Tracked> left(8);
      for (int i = 0; i < 5; ++i) left.send(Tracked(i));
    });
  });
  CHECK(Tracked::live == 0);
}

TEST_CASE("range-for receives until closed and drained") {
  goro::run([] {
    chan<int> ch(10);
    goro::go([=]() mutable {
      for (int i = 0; i < 100; ++i) ch.send(i);
      ch.close();
    });
    int expect = 0;
    for (int v : ch) CHECK(v == expect++);
    CHECK(expect == 100);
  });
}

TEST_CASE("the prime sieve") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      chan<int> source;
      goro::go([=]() mutable {
        for (int i = 2;; ++i) source.send(i);
      });
      std::vector<int> primes;
      chan<int> in = source;
      for (int k = 0; k < 100; ++k) {
        int prime = *in.recv();
        primes.push_back(prime);
        chan<int> out;
        goro::go([prime](chan<int> from, chan<int> to) {
          for (;;) {
            int v = *from.recv();
            if (v % prime != 0) to.send(v);
          }
        }, in, out);
        in = out;
      }
      CHECK(primes.front() == 2);
      CHECK(primes[9] == 29);
      CHECK(primes.back() == 541);
    });  // the filter goroutines are abandoned, as in Go
  });
}

TEST_CASE("plain threads and goroutines share channels; blocked threads sleep") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      chan<int> to_thread, from_thread(4);
      std::thread t([&] {
        for (int v : to_thread) from_thread.send(v * 2);
        from_thread.close();
      });
      goro::go([=]() mutable {
        for (int i = 0; i < 1000; ++i) to_thread.send(i);
        to_thread.close();
      });
      long sum = 0;
      for (int v : from_thread) sum += v;
      CHECK(sum == 999 * 1000);
      t.join();

      // Two plain threads talking through a channel, no goroutine involved.
      chan<int> between;
      std::thread a([&] { between.send(42); });
      std::thread b([&] { CHECK(between.recv() == 42); });
      a.join();
      b.join();
    });
  });
  // ... and with no runtime at all.
  chan<int> ch;
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) ch.send(i);
    ch.close();
  });
  int n = 0;
  for (int v : ch) CHECK(v == n++);
  producer.join();
  CHECK(n == 100);
}

TEST_CASE("a plain thread blocked on a channel burns no CPU") {
  chan<int> ch;
  const long long before = cpu_time_ns();
  std::thread t([&] { CHECK(ch.recv() == 1); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const long long used = cpu_time_ns() - before;
  ch.send(1);
  t.join();
  CHECK(used < 100'000'000);  // sleeping, not spinning (a spinner would use ~300 ms)
}

TEST_CASE("stress: every value sent is received exactly once, with close racing both sides") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      const int rounds = static_cast<int>(scaled(40));
      for (int round = 0; round < rounds; ++round) {
        chan<int> ch(static_cast<std::size_t>(round % 3 == 0 ? 0 : round % 7));
        constexpr int kSenders = 6, kReceivers = 5;
        std::vector<std::atomic<int>> seen(kSenders * 1000);
        std::atomic<int> sent{0}, finished{0};
        for (int s = 0; s < kSenders; ++s)
          goro::go([&, s, ch]() mutable {
            for (int i = 0; i < 1000; ++i) {
              try {
                ch.send(s * 1000 + i);
                ++sent;
              } catch (const goro::closed_channel&) {
                break;  // close raced us: this value was not delivered, and nothing after it
              }
            }
            ++finished;
          });
        for (int r = 0; r < kReceivers; ++r)
          goro::go([&, ch]() mutable {
            while (auto v = ch.recv()) seen[static_cast<std::size_t>(*v)]++;
            ++finished;
          });
        for (int i = 0; i < round % 50; ++i) goro::yield();
        ch.close();
        while (finished < kSenders + kReceivers) goro::yield();
        int received = 0;
        for (auto& count : seen) {
          CHECK(count <= 1);
          received += count;
        }
        CHECK(received == sent);
      }
    });
  });
}

TEST_CASE("many consumers, many producers, one channel") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      chan<long> ch(128);
      const long per = scaled(50000);
      std::atomic<long> total{0};
      std::atomic<int> consumers{0};
      for (int k = 0; k < 4; ++k)
        goro::go([&, ch]() mutable {
          long local = 0;
          for (long v : ch) local += v;
          total += local;
          ++consumers;
        });
      chan<int> producers_done(4);
      for (int k = 0; k < 4; ++k)
        goro::go([=]() mutable {
          for (long i = 1; i <= per; ++i) ch.send(i);
          producers_done.send(0);
        });
      for (int k = 0; k < 4; ++k) producers_done.recv();
      ch.close();
      while (consumers < 4) goro::yield();
      CHECK(total == 4 * per * (per + 1) / 2);
    });
  });
}

TEST_CASE("channel memory is reused safely: made on one thread, dropped on another, and after exit") {
  // Small channels live in blocks cached per thread (runtime/chan/memory.hpp): a reused block
  // must start as a new channel, and blocks move between threads with the channels dropped there.
  constexpr int kThreads = 4, kRounds = 20000;
  std::vector<std::vector<chan<int>>> handed(kThreads);
  std::atomic<long> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        chan<int> c(1 + i % 2);
        bad += c.size() != 0 || c.capacity() != static_cast<std::size_t>(1 + i % 2) || !c.try_send(i) ||
               c.size() != 1;
        if (i % 3 == 0) {
          c.close();
          bad += *c.recv() != i || c.recv().has_value();
        } else {
          bad += !c.try_recv().has_value();
        }
        if (i % 5 == 0) handed[static_cast<std::size_t>(t)].push_back(std::move(c));  // dropped later
      }
    });
  for (auto& th : threads) th.join();  // the makers have exited: their cached blocks are freed
  CHECK(bad.load() == 0);
  std::thread dropper([&] { handed.clear(); });  // the last handles go on yet another thread
  dropper.join();
}

TEST_CASE("a goroutine parked on a nil channel is a deadlock with its wait reason") {
  try {
    goro::run([] {
      chan<int> nil = chan<int>::nil();
      goro::go([nil]() mutable { nil.send(1); });
      nil.recv();
    });
    FAIL("no deadlock reported");
  } catch (const goro::deadlock_error& e) {
    const std::string report = e.what();
    CHECK(report.find("goroutine 1 [chan receive (nil chan)") != std::string::npos);
    CHECK(report.find("[chan send (nil chan)") != std::string::npos);
  }
  try {
    goro::run([] {
      chan<int> ch;
      ch.recv();
    });
    FAIL("no deadlock reported");
  } catch (const goro::deadlock_error& e) {
    CHECK(std::string(e.what()).find("goroutine 1 [chan receive, ") != std::string::npos);
  }
}

TEST_CASE("goroutines abandoned in a channel's queue do not haunt it after run returns") {
  chan<int> survivor;  // outlives the runtime
  goro::run([=]() mutable {
    for (int i = 0; i < 10; ++i) goro::go([=]() mutable { survivor.recv(); });
    for (int i = 0; i < 10; ++i) goro::yield();
  });
  int v = 1;
  CHECK(!survivor.try_send(v));  // nobody is receiving any more
  std::thread t([&] { CHECK(survivor.recv() == 2); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  survivor.send(2);
  t.join();
}

TEST_CASE("a goroutine left blocked on a channel whose every handle is gone is settled without it") {
  // Go's "first answer wins": the slower senders stay blocked on a channel that main, which
  // owned the only handle, has destroyed by the time run ends. Settling them must not touch it
  // (under ASan: no use after free; elsewhere: a reused channel's queue stays intact).
  each_procs([](goro::Config c) {
    chan<int> reused;
    goro::run(c, [&] {
      {
        chan<int> answers;
        for (int i = 0; i < 3; ++i) goro::go([&answers, i] { answers.send(i); });
        answers.recv();
        REQUIRE(wait_parked("chan send", 2));
      }
      reused = chan<int>();  // may take the freed channel's memory
      goro::go([&] { reused.recv(); });
      REQUIRE(wait_parked("chan receive"));
    });
    int v = 1;
    CHECK(!reused.try_send(v));  // its abandoned receiver is gone
    CHECK(!reused.try_recv());
  });
}
