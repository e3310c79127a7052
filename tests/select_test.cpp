// tests/select_test.cpp — select: readiness, fairness, nil and closed channels, blocking,
// misuse, and the classic Go programs built on it.
#include "support.hpp"

#include "chan/chan.hpp"
#include "time/timers.hpp"

#include <goro/chan.hpp>
#include <goro/select.hpp>
#include <goro/sync.hpp>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace goro_test;
using goro::chan;

// The next allocation of exactly this many bytes on this thread throws std::bad_alloc (0: none).
// This binary's operator new, so that the runtime's allocations can fail on cue. It also counts
// this thread's allocations of `count_allocations_of` bytes.
static thread_local std::size_t fail_allocation_of = 0;
static thread_local std::size_t count_allocations_of = 0;
static thread_local int allocations_counted = 0;

void* operator new(std::size_t bytes) {
  if (bytes == count_allocations_of && bytes != 0) ++allocations_counted;
  if (bytes == fail_allocation_of && bytes != 0) {
    fail_allocation_of = 0;
    throw std::bad_alloc();
  }
  if (void* p = std::malloc(bytes ? bytes : 1)) return p;
  throw std::bad_alloc();
}
// Out of line: GCC would see free() of what a new-expression returned and warn.
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

TEST_CASE("select takes a ready case and runs its handler after releasing the channels") {
  goro::run([] {
    chan<int> a(1), b(1);
    b.send(5);
    int got = 0;
    std::size_t idx = goro::select(goro::on_recv(a, [&](std::optional<int>) { got = -1; }),
                                   goro::on_recv(b, [&](std::optional<int> v) {
                                     got = *v;
                                     b.send(6);  // the handler may use the same channel
                                   }));
    CHECK(idx == 1);
    CHECK(got == 5);
    CHECK(b.recv() == 6);
  });
}

TEST_CASE("select with default never blocks") {
  goro::run([] {
    chan<int> a, b;
    bool defaulted = false;
    std::size_t idx = goro::select(goro::on_recv(a), goro::on_default([&] { defaulted = true; }),
                                   goro::on_send(b, 1));
    CHECK(idx == 1);
    CHECK(defaulted);
  });
}

TEST_CASE("select blocks until a case is ready, then performs exactly that one") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      chan<int> a, b, out;
      goro::go([=]() mutable {
        for (int i = 0; i < 50; ++i) goro::yield();
        b.send(2);
      });
      int got = 0;
      std::size_t idx = goro::select(goro::on_recv(a, [&](std::optional<int> v) { got = *v; }),
                                     goro::on_recv(b, [&](std::optional<int> v) { got = *v; }));
      CHECK(idx == 1);
      CHECK(got == 2);
      int v = 0;
      CHECK(!a.try_send(v));  // a's waiter was removed: nobody receives on a any more

      // A send case that blocks, then fires.
      goro::go([=]() mutable { CHECK(out.recv() == 9); });
      CHECK(goro::select(goro::on_recv(a), goro::on_send(out, 9)) == 1);
    });
  });
}

TEST_CASE("fairness: three always-ready cases are each chosen a third of the time") {
  goro::run([] {
    chan<int> a(1), b(1), c(1);
    a.send(0);
    b.send(0);
    c.send(0);
    std::array<int, 3> counts{};
    constexpr int kSelects = 30000;
    for (int i = 0; i < kSelects; ++i) {
      std::size_t k = goro::select(goro::on_recv(a, [&](std::optional<int>) { a.send(0); }),
                                   goro::on_recv(b, [&](std::optional<int>) { b.send(0); }),
                                   goro::on_recv(c, [&](std::optional<int>) { c.send(0); }));
      counts[k]++;
    }
    double chi2 = 0;
    for (int n : counts) chi2 += (n - kSelects / 3.0) * (n - kSelects / 3.0) / (kSelects / 3.0);
    CHECK_MESSAGE(chi2 < 13.816,  // chi-square, 2 degrees of freedom, 0.1% level
                  "counts " << counts[0] << " " << counts[1] << " " << counts[2] << " chi2 " << chi2);
  });
}

// Sixteen cases need more random bits than one word gives the shuffle (select.cpp draws a new
// one past a product of bounds of 2^32, here at the 13th case): the later ones too are fair.
TEST_CASE("fairness: sixteen always-ready cases are each chosen a sixteenth of the time") {
  goro::run([] {
    constexpr std::size_t kCases = 16;
    std::array<chan<int>, kCases> chans;
    for (auto& ch : chans) {
      ch = chan<int>(1);
      ch.send(0);
    }
    std::array<int, kCases> counts{};
    constexpr int kSelects = 32000;
    auto select_all = [&]<std::size_t... I>(std::index_sequence<I...>) {
      return goro::select(goro::on_recv(chans[I], [&](std::optional<int>) { chans[I].send(0); })...);
    };
    for (int i = 0; i < kSelects; ++i) counts[select_all(std::make_index_sequence<kCases>())]++;
    const double expected = static_cast<double>(kSelects) / kCases;
    double chi2 = 0;
    for (int n : counts) chi2 += (n - expected) * (n - expected) / expected;
    std::string seen;
    for (int n : counts) seen += std::to_string(n) + " ";
    CHECK_MESSAGE(chi2 < 37.697,  // chi-square, 15 degrees of freedom, 0.1% level
                  "counts " << seen << "chi2 " << chi2);
  });
}

// As go() and after_func(): a null handler is refused where the case is made, not called later.
TEST_CASE("a null handler is refused with invalid_argument") {
  chan<int> ch(1);
  void (*null_recv)(std::optional<int>) = nullptr;
  void (*null_fn)() = nullptr;
  std::function<void()> empty;
  CHECK_THROWS_AS(goro::on_recv(ch, null_recv), std::invalid_argument);
  CHECK_THROWS_AS(goro::on_recv(chan<int>(1), null_recv), std::invalid_argument);
  CHECK_THROWS_AS(goro::on_send(ch, 1, null_fn), std::invalid_argument);
  CHECK_THROWS_AS(goro::on_send(chan<int>(1), 1, empty), std::invalid_argument);
  CHECK_THROWS_AS(goro::on_default(empty), std::invalid_argument);
  CHECK_NOTHROW(goro::on_recv(ch, [](std::optional<int>) {}));
}

TEST_CASE("nil channels never fire; a select with nothing that can fire blocks forever") {
  goro::run([] {
    chan<int> nil = chan<int>::nil();
    chan<int> ready(1);
    ready.send(3);
    CHECK(goro::select(goro::on_recv(nil), goro::on_send(nil, 1), goro::on_recv(ready)) == 2);
    bool defaulted = false;
    CHECK(goro::select(goro::on_recv(nil), goro::on_default([&] { defaulted = true; })) == 1);
    CHECK(defaulted);
  });
  // The deadlock report names the wait as Go does: "select (no cases)" only for select {}.
  for (int variant = 0; variant < 2; ++variant) {
    try {
      goro::run([variant] {
        if (variant == 0) goro::select();
        chan<int> nil = chan<int>::nil();
        goro::select(goro::on_recv(nil), goro::on_send(nil, 1));
      });
      FAIL("no deadlock");
    } catch (const goro::deadlock_error& e) {
      const char* reason = variant == 0 ? "goroutine 1 [select (no cases), " : "goroutine 1 [select, ";
      CHECK(std::string(e.what()).find(reason) != std::string::npos);
    }
  }
}

TEST_CASE("closed channels: a receive case fires with nullopt, a send case throws") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      chan<int> closed;
      closed.close();
      bool was_nullopt = false;
      goro::select(goro::on_recv(closed, [&](std::optional<int> v) { was_nullopt = !v; }));
      CHECK(was_nullopt);
      CHECK_THROWS_AS(goro::select(goro::on_send(closed, 1)), goro::closed_channel);

      // Closed while the select waits.
      chan<int> a, b;
      goro::go([=]() mutable {
        for (int i = 0; i < 20; ++i) goro::yield();
        a.close();
      });
      std::optional<int> got = 5;
      CHECK(goro::select(goro::on_recv(a, [&](std::optional<int> v) { got = v; }), goro::on_recv(b)) == 0);
      CHECK(!got);
      chan<int> s;
      goro::go([=]() mutable {
        for (int i = 0; i < 20; ++i) goro::yield();
        s.close();
      });
      CHECK_THROWS_AS(goro::select(goro::on_send(s, 1), goro::on_recv(b)), goro::closed_channel);
    });
  });
}

TEST_CASE("the same channel in several cases") {
  goro::run([] {
    chan<int> ch(2);
    ch.send(1);
    int hits = 0;
    std::size_t k = goro::select(goro::on_recv(ch, [&](std::optional<int>) { ++hits; }),
                                 goro::on_recv(ch, [&](std::optional<int>) { ++hits; }),
                                 goro::on_send(ch, 2));
    CHECK(k < 3);
    CHECK((k == 2 ? hits == 0 : hits == 1));
  });
}

TEST_CASE("goroutines selecting on both ends of one unbuffered channel pair up with each other") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      chan<int> ch;
      constexpr int kRounds = 2000;
      std::atomic<int> sends{0}, recvs{0}, finished{0};
      for (int g = 0; g < 2; ++g)
        goro::go([&, ch, g]() mutable {
          for (int i = 0; i < kRounds; ++i)
            goro::select(goro::on_send(ch, g, [&] { ++sends; }),
                         goro::on_recv(ch, [&](std::optional<int>) { ++recvs; }));
          ++finished;
        });
      while (finished < 2) goro::yield();
      CHECK(sends == kRounds);
      CHECK(recvs == kRounds);
    });
  });
}

TEST_CASE("double select: two selecting goroutines feed each other") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      chan<int> c1, c2, c3, c4;
      chan<int> out(1);
      // Go's test/chan/doubleselect.go: senders select over two channels, muxers forward.
      constexpr int kN = 5000;
      goro::go([=]() mutable {
        for (int i = 0; i < kN; ++i) goro::select(goro::on_send(c1, i), goro::on_send(c2, i));
        c1.close();
        c2.close();
      });
      auto mux = [](chan<int> in, chan<int> to, chan<int> done) {
        for (int v : in) to.send(v);
        done.send(0);
      };
      chan<int> merged, done(2);
      goro::go(mux, c1, merged, done);
      goro::go(mux, c2, merged, done);
      goro::go([=]() mutable {
        done.recv();
        done.recv();
        merged.close();
      });
      std::vector<bool> seen(kN);
      int n = 0;
      for (int v : merged) {
        CHECK(!seen[static_cast<std::size_t>(v)]);
        seen[static_cast<std::size_t>(v)] = true;
        ++n;
      }
      CHECK(n == kN);
      (void)c3;
      (void)c4;
      (void)out;
    });
  });
}

TEST_CASE("select from plain threads, against goroutines") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      chan<int> a, b, stop;
      std::atomic<int> got{0};
      std::thread t([&] {
        for (;;) {
          bool done = false;
          goro::select(goro::on_recv(a, [&](std::optional<int>) { ++got; }),
                       goro::on_recv(b, [&](std::optional<int>) { ++got; }),
                       goro::on_recv(stop, [&](std::optional<int>) { done = true; }));
          if (done) break;
        }
      });
      for (int i = 0; i < 500; ++i) (i % 2 ? a : b).send(i);
      stop.close();
      t.join();
      CHECK(got == 500);
    });
  });
}

TEST_CASE("stress: selects racing senders, receivers and close, no value lost or duplicated") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      const int rounds = static_cast<int>(scaled(20));
      for (int round = 0; round < rounds; ++round) {
        chan<int> x(static_cast<std::size_t>(round % 2)), y;
        constexpr int kPerSender = 2000;
        std::vector<std::atomic<int>> seen(2 * kPerSender);
        std::atomic<int> finished{0}, delivered{0};
        for (int s = 0; s < 2; ++s)
          goro::go([&, s, x, y]() mutable {
            for (int i = 0; i < kPerSender; ++i) {
              const int v = s * kPerSender + i;
              try {
                goro::select(goro::on_send(x, v, [&] { ++delivered; }), goro::on_send(y, v, [&] { ++delivered; }));
              } catch (const goro::closed_channel&) {
                break;
              }
            }
            ++finished;
          });
        for (int r = 0; r < 3; ++r)
          goro::go([&, x, y]() mutable {
            bool x_open = true, y_open = true;
            while (x_open || y_open) {
              goro::select(goro::on_recv(x_open ? x : chan<int>::nil(), [&](std::optional<int> v) {
                             if (v) seen[static_cast<std::size_t>(*v)]++;
                             else x_open = false;
                           }),
                           goro::on_recv(y_open ? y : chan<int>::nil(), [&](std::optional<int> v) {
                             if (v) seen[static_cast<std::size_t>(*v)]++;
                             else y_open = false;
                           }));
            }
            ++finished;
          });
        for (int i = 0; i < round * 3; ++i) goro::yield();
        x.close();
        y.close();
        while (finished < 5) goro::yield();
        int received = 0;
        for (auto& count : seen) {
          CHECK(count <= 1);
          received += count;
        }
        CHECK(received == delivered);
      }
    });
  });
}

TEST_CASE("the return value is the position among all cases, default included") {
  goro::run([] {
    chan<int> a, b(1);
    b.send(1);
    CHECK(goro::select(goro::on_default([] {}), goro::on_recv(a), goro::on_recv(b)) == 2);
    CHECK(goro::select(goro::on_recv(a), goro::on_default([] {}), goro::on_recv(b)) == 1);
  });
}

// on_send(ch, v) as ch.send(v) takes it: v converts to the channel's T, which is deduced from
// the channel alone ("text" into a chan<std::string>, 5 into a chan<long>).
template <class T, class V>
concept sendable_case = requires(const chan<T>& ch, V v) { goro::on_send(ch, std::forward<V>(v)); };
template <class T, class V>
concept sendable_case_with_handler =
    requires(const chan<T>& ch, V v) { goro::on_send(ch, std::forward<V>(v), [] {}); };

TEST_CASE("a send case converts its value to the channel's element type, as send does") {
  CHECK(sendable_case<std::string, const char (&)[3]>);
  CHECK(sendable_case_with_handler<long, int>);
  CHECK(sendable_case<std::unique_ptr<int>, std::nullptr_t>);
  goro::run([] {
    chan<std::string> s(1);
    chan<long> l(1);
    bool handled = false;
    CHECK(goro::select(goro::on_send(s, "hi")) == 0);
    CHECK(goro::select(goro::on_send(l, 5, [&] { handled = true; })) == 0);
    CHECK(s.recv() == "hi");
    CHECK(l.recv() == 5L);
    CHECK(handled);
  });
}

// A case may be made before the select, from a temporary channel (goro::after, a function that
// returns a channel): the case keeps that channel alive. (Before the commit that added this test,
// it kept only a pointer, and the select used a freed channel: the timer below was freed with
// its channel, and a select like the ones below could report a deadlock or crash.)
TEST_CASE("a case made from a temporary channel keeps it alive until the select") {
  goro::run([] {
    {
      auto later = goro::on_recv(goro::after(std::chrono::hours(1)));
      CHECK(goro::rt::earliest_timer() != 0);  // a handle of its channel is kept: still pending
    }
    CHECK(goro::rt::earliest_timer() == 0);  // the case gone, so is the timer
    auto timeout = goro::on_recv(goro::after(std::chrono::milliseconds(1)));
    chan<int> never;
    CHECK(goro::select(goro::on_recv(never), std::move(timeout)) == 1);
    const auto ready = [] {
      chan<int> ch(1);
      ch.send(7);
      return ch;
    };
    int got = 0;
    auto recv = goro::on_recv(ready(), [&](std::optional<int> v) { got = *v; });
    CHECK(goro::select(goro::on_recv(never), std::move(recv)) == 1);
    CHECK(got == 7);
    auto send = goro::on_send(chan<int>(1), 1);
    CHECK(goro::select(goro::on_recv(never), std::move(send)) == 1);
  });
}

TEST_CASE("a select readied by one case but abandoned before it ran leaves its other channels") {
  chan<int> a(1), b(1);  // outlive the runtime
  goro::Config c;
  c.procs = 1;  // the selecting goroutine cannot run between the send and main's return
  goro::run(c, [&] {
    goro::go([&] { goro::select(goro::on_recv(a), goro::on_recv(b)); });
    REQUIRE(wait_parked("select"));
    a.send(1);  // readies the selecting goroutine; main returns before it runs
  });
  // Its waiter on b lived on its released stack: b must not reach for it.
  int v = 2;
  CHECK(b.try_send(v));
  CHECK(b.try_recv() == 2);
}

// The partner that completes a parked select may drop its last handle of the channels at once:
// the select holds references of its own until it has unlinked from every case, as Go's does
// through its garbage collector. (Before the commit that added this test it held none, and its
// pass 3 locked freed channels: a heap-use-after-free under ASan; in release builds, hangs and
// heap corruption.)
TEST_CASE("a woken select keeps its channels alive although the partner dropped them") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      for (int round = 0; round < 100; ++round) {
        auto reply = std::make_unique<chan<int>>();
        auto never = std::make_unique<chan<int>>();
        chan<int> got(1);
        goro::WaitGroup done;
        done.add(1);
        goro::go([&, r = reply.get(), n = never.get()] {  // no handle of its own
          goro::select(goro::on_recv(*r, [&](std::optional<int> v) { got.send(*v); }),
                       goro::on_recv(*n, [](std::optional<int>) {}));
          done.done();
        });
        while (goro::rt::from_core(reply->core())->recvq.empty()) goro::yield();  // parked
        reply->send(round);
        reply.reset();
        never.reset();
        CHECK(*got.recv() == round);
        done.wait();
      }
    });
  });
}

namespace {

// A select over a, every filler, then b, with a default. The fillers (never ready) put time
// between the moments the fast pass looks at a and at b, whatever order it polls them in.
template <std::size_t... I>
bool select_defaults(const chan<int>& a, const chan<int>& b, const std::vector<chan<int>>& fillers,
                     std::index_sequence<I...>) {
  bool defaulted = false;
  goro::select(goro::on_recv(a), goro::on_recv(fillers[I])..., goro::on_recv(b),
               goro::on_default([&] { defaulted = true; }));
  return defaulted;
}

}  // namespace

// Go's select takes the default only if no case could proceed at the moment it chose. Before the
// commit that added this test, a select with a default decided "none is ready" from its lock-free
// fast pass alone, which sees each case at a different moment: b looked empty after a had (still)
// looked empty, although a had filled before b emptied, so at every moment one of them had a
// value. (Seen in one to five rounds in a hundred on two cores.)
TEST_CASE("a select with a default takes it only if at one moment no case was ready") {
  constexpr std::size_t kFillers = 62;
  const std::vector<chan<int>> fillers(kFillers);  // nobody sends on them
  const chan<int> a(1), b(1);
  const int rounds = static_cast<int>(scaled(3000));
  std::atomic<int> start{0}, finished{0};
  auto wait_for = [](const std::atomic<int>& flag, int round) {
    // Spins: a thread in sched_yield would miss the moment. Yields now and then, in case the
    // other thread has no core.
    for (int spins = 1; flag.load() != round; ++spins)
      if (spins % 65536 == 0) std::this_thread::yield();
  };
  // Plain threads: two that really run at once, with no scheduler between them.
  std::thread other([&] {
    for (int round = 1; round <= rounds; ++round) {
      wait_for(start, round);
      std::atomic<int> delay{round * 7919 % 400};  // vary the overlap: up to a few hundred ns
      while (delay.load(std::memory_order_relaxed) > 0)
        delay.store(delay.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
      a.send(round);       // a becomes ready ...
      (void)b.try_recv();  // ... before b stops being (unless the select took b's value)
      finished.store(round);
    }
  });
  int defaults = 0;
  for (int round = 1; round <= rounds; ++round) {
    int v = 0;
    (void)a.try_recv();  // a empty, b full
    CHECK(b.try_send(v));
    start.store(round);
    defaults += select_defaults(a, b, fillers, std::make_index_sequence<kFillers>{});
    wait_for(finished, round);
    (void)b.try_recv();
  }
  other.join();
  CHECK(defaults == 0);
}

// A select that cannot allocate its waiters (more cases than it keeps on its stack) throws
// std::bad_alloc and leaves its channels as they were. Before the commit that added this test it
// allocated them with every channel locked and a reference to each taken: the exception left
// all of them locked for ever (the next operation on any of them spun), and never released.
TEST_CASE("a select whose waiters cannot be allocated leaves its channels unlocked") {
  goro::run([] {
    std::array<chan<int>, 10> chans;  // more than SmallArray keeps inline, none ready
    fail_allocation_of = chans.size() * sizeof(goro::rt::ChanWaiter);
    CHECK_THROWS_AS(goro::select(goro::on_recv(chans[0]), goro::on_recv(chans[1]), goro::on_recv(chans[2]),
                                 goro::on_recv(chans[3]), goro::on_recv(chans[4]), goro::on_recv(chans[5]),
                                 goro::on_recv(chans[6]), goro::on_recv(chans[7]), goro::on_recv(chans[8]),
                                 goro::on_send(chans[9], 1)),
                    std::bad_alloc);
    fail_allocation_of = 0;
    for (const chan<int>& ch : chans) {
      goro::rt::Chan* c = goro::rt::from_core(ch.core());
      const bool unlocked = c->lock.try_lock();
      CHECK(unlocked);
      if (unlocked) c->lock.unlock();
      CHECK(c->refs.load() == 1);  // this handle's only
    }
  });
}

// A select with a default never parks, so it needs no waiters: with more cases than SmallArray
// keeps on its stack it must not allocate them. (Once "none is ready" was decided under the
// locks, the waiters, allocated before locking, were allocated and freed on every call that took
// the default: a polling loop paid a malloc and a free per select.)
TEST_CASE("a select with a default and many cases does not allocate waiters to take the default") {
  goro::run([] {
    std::array<chan<int>, 10> chans;  // more than SmallArray keeps inline, none ready
    count_allocations_of = chans.size() * sizeof(goro::rt::ChanWaiter);
    allocations_counted = 0;
    int defaults = 0;
    for (int i = 0; i < 100; ++i)
      goro::select(goro::on_recv(chans[0]), goro::on_recv(chans[1]), goro::on_recv(chans[2]),
                   goro::on_recv(chans[3]), goro::on_recv(chans[4]), goro::on_recv(chans[5]),
                   goro::on_recv(chans[6]), goro::on_recv(chans[7]), goro::on_recv(chans[8]),
                   goro::on_send(chans[9], 1), goro::on_default([&] { ++defaults; }));
    const int counted = allocations_counted;
    count_allocations_of = 0;
    CHECK(defaults == 100);
    CHECK(counted == 0);
  });
}
