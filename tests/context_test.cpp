// tests/context_test.cpp — goro::Context: Go's context_test.go. background, with_cancel,
// with_timeout/with_deadline, trees of contexts, unlinking of finished children, cancellation
// races, plain threads, and deadlock detection around deadlines.
//
// The suite compiles the implementation into itself (context/context.cpp) to look at a node's
// child map — the only way to see that cancelled children do not pile up under a parent —
// without the library exposing anything new. (The archive's copy of context.cpp is then not
// linked: every symbol it defines is already defined here.)
#include "support.hpp"

#include "context/context.cpp"
#include "time/timers.hpp"

#include <goro/chan.hpp>
#include <goro/select.hpp>
#include <goro/sync.hpp>
#include <goro/time.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

using namespace goro_test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using goro::Context;

namespace {

// Context::node_ is private; an explicit instantiation may name it (the standard's access rule
// for explicit instantiations), which gives the suite a pointer to the member.
using NodePtr = std::shared_ptr<goro::detail::ContextNode>;
NodePtr Context::*node_member();
template <NodePtr Context::*M>
struct NodeAccess {
  friend NodePtr Context::*node_member() { return M; }
};
template struct NodeAccess<&Context::node_>;

goro::detail::ContextNode& node_of(const Context& c) { return *(c.*node_member()); }

std::size_t children_of(const Context& c) {
  auto& node = node_of(c);
  std::lock_guard guard(node.lock);
  return node.children.size();
}

// done() is closed (without blocking: a closed channel's receive is ready).
bool is_done(const Context& c) {
  return goro::select(goro::on_recv(c.done()), goro::on_default([] {})) == 0;
}

// Blocks until c is done, or 20 s pass; false on the give-up.
bool wait_done(const Context& c) {
  return goro::select(goro::on_recv(c.done()), goro::on_recv(goro::after(20s))) == 0;
}

struct Tree {
  Context ctx;
  std::function<void()> cancel;
  std::vector<Tree> kids;
};

Tree make_tree(Context parent, int depth, int width) {
  auto [ctx, cancel] = goro::with_cancel(parent);
  Tree t{ctx, cancel, {}};
  if (depth > 1)
    for (int i = 0; i < width; ++i) t.kids.push_back(make_tree(ctx, depth - 1, width));
  return t;
}

template <class F>
void each_node(const Tree& t, F&& f) {
  f(t);
  for (const Tree& k : t.kids) each_node(k, f);
}

}  // namespace

TEST_CASE("background is never done") {
  Context bg = goro::background();
  CHECK(!static_cast<bool>(bg.done()));  // a nil channel
  CHECK(!bg.err());
  CHECK(!bg.deadline());
  goro::run([] {
    Context bg = goro::background();
    CHECK(!is_done(bg));
    // Waiting on it with a timeout: the timeout wins.
    CHECK(goro::select(goro::on_recv(bg.done()), goro::on_recv(goro::after(10ms))) == 1);
    CHECK(!bg.err());
  });
}

TEST_CASE("with_cancel: cancel closes done() once, sets err(); cancelling twice is fine") {
  goro::run([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    CHECK(static_cast<bool>(ctx.done()));
    CHECK(ctx.done() == ctx.done());  // one channel
    CHECK(!is_done(ctx));
    CHECK(!ctx.err());
    CHECK(!ctx.deadline());
    goro::chan<int> woke(2);
    for (int i = 0; i < 2; ++i)
      goro::go([ctx, woke]() mutable {
        ctx.done().recv();
        woke.send(1);
      });
    goro::sleep_for(5ms);
    CHECK(!woke.try_recv());
    cancel();
    woke.recv();
    woke.recv();
    CHECK(is_done(ctx));
    CHECK(ctx.err() == goro::errc::canceled);
    CHECK(ctx.err() != goro::errc::deadline_exceeded);
    CHECK(ctx.err().message() == "context canceled");
    CHECK(ctx.err().category().name() == std::string("goro.context"));
    CHECK(ctx.err() != std::errc::timed_out);
    CHECK(ctx.err() == std::errc::operation_canceled);  // equivalent to the portable condition
    cancel();  // again: no effect, no exception (a second close would throw)
    cancel();
    CHECK(ctx.err() == goro::errc::canceled);
    CHECK(!ctx.done().recv());  // closed: receives return nullopt at once
    // A copy of the cancel function and of the context work the same.
    auto copy = cancel;
    copy();
    Context other = ctx;
    CHECK(other.err() == goro::errc::canceled);
  });
}

// done() hands out the channel itself, so a program can close it (Go's receive-only channel
// would not compile). cancel() then threw closed_channel half-way: the error was set, but the
// children were left live and the node never settled, so err() and any later cancel of it or
// of an ancestor waited for ever. A done channel closed from outside is now taken as closed.
TEST_CASE("misuse: a done() channel closed by the program does not break cancellation") {
  goro::run([] {
    auto [root, cancel_root] = goro::with_cancel(goro::background());
    auto [ctx, cancel] = goro::with_cancel(root);
    auto [kid, cancel_kid] = goro::with_cancel(ctx);
    ctx.done().close();
    CHECK(!ctx.err());  // closed, but not cancelled yet
    cancel();
    CHECK(ctx.err() == goro::errc::canceled);
    CHECK(kid.err() == goro::errc::canceled);
    CHECK(is_done(kid));
    CHECK(children_of(root) == 0);
    cancel_root();  // does not wait for ever on ctx
    CHECK(root.err() == goro::errc::canceled);
    // The same through a parent's walk.
    auto [a, cancel_a] = goro::with_cancel(goro::background());
    auto [b, cancel_b] = goro::with_cancel(a);
    auto [c, cancel_c] = goro::with_cancel(b);
    b.done().close();
    cancel_a();
    CHECK(b.err() == goro::errc::canceled);
    CHECK(c.err() == goro::errc::canceled);
  });
}

TEST_CASE("cancelling a parent cancels every descendant; cancelling a child leaves the parent") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      Tree root = make_tree(goro::background(), 4, 5);  // 156 contexts
      long nodes = 0;
      each_node(root, [&](const Tree&) { ++nodes; });
      CHECK(nodes == 1 + 5 + 25 + 125);

      // Cancel one subtree: exactly that subtree is done.
      const Tree& sub = root.kids[2];
      sub.cancel();
      long done_in_sub = 0, done_elsewhere = 0;
      each_node(sub, [&](const Tree& t) { done_in_sub += is_done(t.ctx) && t.ctx.err() == goro::errc::canceled; });
      for (std::size_t i = 0; i < root.kids.size(); ++i)
        if (i != 2) each_node(root.kids[i], [&](const Tree& t) { done_elsewhere += is_done(t.ctx); });
      CHECK(done_in_sub == 31);
      CHECK(done_elsewhere == 0);
      CHECK(!is_done(root.ctx));
      CHECK(children_of(root.ctx) == 4);  // the cancelled child unlinked itself

      // A leaf, cancelled: its parent stays live.
      root.kids[0].kids[0].kids[0].cancel();
      CHECK(!is_done(root.kids[0].kids[0].ctx));
      CHECK(children_of(root.kids[0].kids[0].ctx) == 4);

      // Goroutines wait on every context; cancelling the root wakes them all.
      std::atomic<long> woke{0};
      each_node(root, [&](const Tree& t) {
        goro::go([ctx = t.ctx, &woke] {
          ctx.done().recv();
          if (ctx.err() == goro::errc::canceled) ++woke;
        });
      });
      root.cancel();
      REQUIRE(wait_count(woke, nodes));
      long all_done = 0;
      each_node(root, [&](const Tree& t) { all_done += is_done(t.ctx) && t.ctx.err() == goro::errc::canceled; });
      CHECK(all_done == nodes);
      CHECK(children_of(root.ctx) == 0);

      // A child of a cancelled parent is born cancelled, and never linked.
      auto [late, late_cancel] = goro::with_cancel(root.kids[1].ctx);
      CHECK(is_done(late));
      CHECK(late.err() == goro::errc::canceled);
      CHECK(children_of(root.kids[1].ctx) == 0);
      late_cancel();
    });
  });
}

TEST_CASE("a child cancelled or dropped before its parent is unlinked from it") {
  goro::run([] {
    auto [parent, cancel_parent] = goro::with_cancel(goro::background());
    const long n = scaled(100'000);
    for (long i = 0; i < n; ++i) {
      auto [child, cancel] = goro::with_cancel(parent);
      CHECK(children_of(parent) == 1);
      cancel();
    }
    CHECK(children_of(parent) == 0);
    // Children dropped without cancel (a leak in Go; here they unlink as they die).
    for (long i = 0; i < n / 10; ++i) {
      auto child = goro::with_cancel(parent);
      (void)child;
    }
    CHECK(children_of(parent) == 0);
    // Timeouts and deadlines cancelled early, and grandchildren whose middle goes.
    for (long i = 0; i < n / 10; ++i) {
      auto [child, cancel] = goro::with_timeout(parent, 1h);
      auto [grandchild, cancel_grandchild] = goro::with_cancel(child);
      CHECK(children_of(child) == 1);
      cancel();
      CHECK(is_done(grandchild));
      CHECK(children_of(child) == 0);
    }
    CHECK(children_of(parent) == 0);
    // Children that time out on their own unlink themselves too.
    std::vector<Context> timed;
    for (int i = 0; i < 100; ++i) {
      auto [child, cancel] = goro::with_timeout(parent, std::chrono::microseconds(10 * i));
      timed.push_back(child);
      (void)cancel;
    }
    for (auto& child : timed) REQUIRE(wait_done(child));
    // The timer's goroutine closes done() first and unlinks right after (Go's order too).
    const auto give_up = Clock::now() + 20s;
    while (children_of(parent) != 0 && Clock::now() < give_up) goro::sleep_for(100us);
    CHECK(children_of(parent) == 0);
    CHECK(!is_done(parent));
    cancel_parent();
  });
}

// A context with a deadline that its program drops without calling cancel (Go's "lostcancel"):
// nobody can see it any more (its children would hold it), so its timer goes with it rather than
// stay armed until the deadline, holding the node's memory, and counting for deadlock detection
// as a timer that may wake someone.
TEST_CASE("a context with a deadline dropped without cancel disarms its timer") {
  goro::run([] {
    for (int i = 0; i < 1000; ++i) {
      auto dropped = goro::with_timeout(goro::background(), 1h);
      (void)dropped;
    }
    CHECK(goro::rt::earliest_timer() == 0);
    // A child keeps it alive, and its deadline still comes.
    Context child = goro::background();
    {
      auto [parent, cancel_parent] = goro::with_timeout(goro::background(), 5ms);
      child = goro::with_cancel(parent).first;
    }
    CHECK(wait_done(child));
    CHECK(child.err() == goro::errc::deadline_exceeded);
  });
}

// Its done() channel can still be seen, though: a handle of it kept (a goroutine given only
// ctx.done(), Go's `stop <-chan struct{}`) is closed at the deadline, or when its parent is
// cancelled, as in Go. (Before the commit that added this test, the timer went with the context,
// and a cancelled parent could no longer reach it: the waits below never ended, and run()
// reported a deadlock.)
TEST_CASE("a context dropped without cancel still closes a done() handle kept, at its deadline or with its parent") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      auto done = goro::chan<std::monostate>::nil();
      {
        auto [ctx, cancel] = goro::with_timeout(goro::background(), 5ms);
        done = ctx.done();
      }
      CHECK(!done.recv());  // closed
      // And a cancellation of its parent closes it, at any depth, before or after the drop.
      auto [parent, cancel_parent] = goro::with_cancel(goro::background());
      std::vector<goro::chan<std::monostate>> kept;
      for (int i = 0; i < 20; ++i) {
        auto [child, cancel_child] = goro::with_timeout(parent, 1h);
        auto grandchild = goro::with_cancel(child).first;
        kept.push_back(i % 2 ? child.done() : grandchild.done());
      }
      for (int i = 0; i < 100; ++i) (void)goro::with_cancel(parent).first.done();  // not kept
      auto [late, cancel_late] = goro::with_cancel(parent);
      cancel_parent();
      kept.push_back(late.done());
      { auto dropped = std::move(late); }
      for (auto& d : kept) CHECK(goro::select(goro::on_recv(d), goro::on_default([] {})) == 0);  // closed
      // Dropped with nothing kept, its timer still goes at once.
      for (int i = 0; i < 1000; ++i) {
        auto dropped = goro::with_timeout(goro::background(), 1h);
        (void)dropped;
      }
      CHECK(goro::rt::earliest_timer() == 0);
    });
  });
}

TEST_CASE("with_timeout: done after the timeout, with deadline_exceeded") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      const auto before = Clock::now();
      auto [ctx, cancel] = goro::with_timeout(goro::background(), 20ms);
      const auto after = Clock::now();
      REQUIRE(ctx.deadline());
      CHECK(*ctx.deadline() >= before + 20ms);
      CHECK(*ctx.deadline() <= after + 20ms);
      const auto checked = Clock::now();
      const bool done_then = is_done(ctx);
      const std::error_code err_then = ctx.err();
      if (checked < *ctx.deadline()) {  // (else the machine stalled past the deadline)
        CHECK(!done_then);
        CHECK(!err_then);
      }
      ctx.done().recv();
      CHECK(Clock::now() >= before + 20ms);
      CHECK(ctx.err() == goro::errc::deadline_exceeded);
      CHECK(ctx.err() == std::errc::timed_out);  // equivalent to the portable condition
      CHECK(ctx.err() != std::errc::operation_canceled);
      CHECK(ctx.err().message() == "context deadline exceeded");
      cancel();  // afterwards: the reason stays
      CHECK(ctx.err() == goro::errc::deadline_exceeded);

      // Its descendants time out with it, with the same reason, and inherit the deadline.
      auto [parent, cancel_parent] = goro::with_timeout(goro::background(), 30ms);
      auto [child, cancel_child] = goro::with_cancel(parent);
      auto [grandchild, cancel_grandchild] = goro::with_cancel(child);
      CHECK(child.deadline() == parent.deadline());
      CHECK(grandchild.deadline() == parent.deadline());
      grandchild.done().recv();
      CHECK(grandchild.err() == goro::errc::deadline_exceeded);
      CHECK(child.err() == goro::errc::deadline_exceeded);
      CHECK(parent.err() == goro::errc::deadline_exceeded);

      // cancel() before the deadline: canceled, and the deadline passing changes nothing.
      auto [early, cancel_early] = goro::with_timeout(goro::background(), 100ms);
      const bool in_time = Clock::now() < *early.deadline();
      cancel_early();
      const std::error_code why = early.err();
      if (in_time) CHECK(why == goro::errc::canceled);
      CHECK(is_done(early));
      goro::sleep_for(150ms);
      CHECK(early.err() == why);
    });
  });
}

TEST_CASE("with_timeout: a duration too long to add to the clock means no deadline passes") {
  goro::run([] {
    auto [ctx, cancel] = goro::with_timeout(goro::background(), std::chrono::nanoseconds::max());
    REQUIRE(ctx.deadline());
    CHECK(*ctx.deadline() == goro::time_point::max());
    goro::sleep_for(20ms);
    CHECK(!is_done(ctx));
    CHECK(!ctx.err());
    cancel();
    CHECK(ctx.err() == goro::errc::canceled);
  });
}

// seconds::max() converted to nanoseconds implicitly is -1 s (std::chrono does not check the
// overflow): such a "no timeout" context was done at once. Durations and deadlines of any unit
// saturate instead.
TEST_CASE("with_timeout, with_deadline: a duration or deadline of any unit too long for nanoseconds means no deadline passes") {
  using namespace std::chrono;
  goro::run([] {
    auto [ctx, cancel] = goro::with_timeout(goro::background(), seconds::max());
    REQUIRE(ctx.deadline());
    CHECK(*ctx.deadline() == goro::time_point::max());
    auto [ctx2, cancel2] = goro::with_timeout(goro::background(), hours(24 * 365 * 1000));
    CHECK(*ctx2.deadline() == goro::time_point::max());
    auto [ctx3, cancel3] = goro::with_deadline(goro::background(), time_point<steady_clock, hours>::max());
    CHECK(*ctx3.deadline() == goro::time_point::max());
    goro::sleep_for(20ms);
    for (const Context* c : {&ctx, &ctx2, &ctx3}) {
      CHECK(!is_done(*c));
      CHECK(!c->err());
    }
    // Far in the past, in any unit: done at once.
    auto [past, cancel_past] = goro::with_timeout(goro::background(), seconds::min());
    CHECK(past.err() == goro::errc::deadline_exceeded);
    auto [past2, cancel_past2] = goro::with_deadline(goro::background(), time_point<steady_clock, hours>::min());
    CHECK(past2.err() == goro::errc::deadline_exceeded);
    cancel();
    cancel2();
    cancel3();
  });
}

TEST_CASE("with_timeout, with_deadline: a deadline too far in the past is passed, not a wrap into the future") {
  // Passed deadlines need no runtime: these are done at once, without arming a timer (which
  // would throw std::logic_error here).
  auto [min_timeout, cancel_min_timeout] = goro::with_timeout(goro::background(), std::chrono::nanoseconds::min());
  CHECK(min_timeout.err() == goro::errc::deadline_exceeded);
  auto [min_deadline, cancel_min_deadline] = goro::with_deadline(goro::background(), goro::time_point::min());
  CHECK(min_deadline.err() == goro::errc::deadline_exceeded);
  CHECK(min_deadline.deadline() == goro::time_point::min());
}

TEST_CASE("with_deadline: clipped to the parent's; an earlier one is kept; a passed one is done at once") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      const auto soon = Clock::now() + 300ms;
      auto [parent, cancel_parent] = goro::with_deadline(goro::background(), soon);
      CHECK(parent.deadline() == soon);

      auto [later, cancel_later] = goro::with_deadline(parent, soon + 1h);
      CHECK(later.deadline() == soon);  // clipped
      auto [later2, cancel_later2] = goro::with_timeout(parent, 1h);
      CHECK(later2.deadline() == soon);

      const auto sooner = Clock::now() + 10ms;
      auto [earlier, cancel_earlier] = goro::with_deadline(parent, sooner);
      CHECK(earlier.deadline() == sooner);
      earlier.done().recv();
      CHECK(Clock::now() >= sooner);
      CHECK(earlier.err() == goro::errc::deadline_exceeded);
      const auto now = Clock::now();
      const bool parent_done = is_done(parent);
      if (now < soon) CHECK(!parent_done);  // the child's deadline did not end its parent

      later.done().recv();  // with its parent, at the parent's deadline
      CHECK(Clock::now() >= soon);
      CHECK(later.err() == goro::errc::deadline_exceeded);
      CHECK(later2.err() == goro::errc::deadline_exceeded);
      CHECK(parent.err() == goro::errc::deadline_exceeded);

      // Already passed: done before with_deadline returns.
      for (std::chrono::nanoseconds d : {std::chrono::nanoseconds(-1h), std::chrono::nanoseconds(-1ms), std::chrono::nanoseconds(0)}) {
        auto [gone, cancel_gone] = goro::with_timeout(goro::background(), d);
        CHECK(is_done(gone));
        CHECK(gone.err() == goro::errc::deadline_exceeded);
        REQUIRE(gone.deadline());
      }
      auto [gone, cancel_gone] = goro::with_deadline(goro::background(), goro::time_point{});
      CHECK(is_done(gone));
      CHECK(gone.err() == goro::errc::deadline_exceeded);
      CHECK(gone.deadline() == goro::time_point{});
      // ... and a passed deadline under a live cancellable parent does not cancel the parent.
      auto [live, cancel_live] = goro::with_cancel(goro::background());
      auto [gone2, cancel_gone2] = goro::with_timeout(live, -1s);
      CHECK(is_done(gone2));
      CHECK(!is_done(live));
      CHECK(children_of(live) == 0);
      cancel_live();
    });
  });
  // A passed deadline needs no timer, so no runtime.
  auto [gone, cancel] = goro::with_timeout(goro::background(), -1s);
  CHECK(gone.err() == goro::errc::deadline_exceeded);
  // A future one needs a runtime (timers do)...
  CHECK_THROWS_AS(goro::with_timeout(goro::background(), 1h), std::logic_error);
  // ... unless the parent is cancelled already: the child is done at once and needs no timer.
  auto [cancelled, cancel_parent] = goro::with_cancel(goro::background());
  cancel_parent();
  auto [child, cancel_child] = goro::with_timeout(cancelled, 1h);
  CHECK(child.err() == goro::errc::canceled);
  CHECK(is_done(child));
}

TEST_CASE("stress: cancellation races") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      const int rounds = static_cast<int>(scaled(200));
      std::mt19937 rng(1);
      for (int round = 0; round < rounds; ++round) {
        // A root, children, grandchildren; goroutines cancel random ones, including the root,
        // concurrently, while others select on done() and more children are being created.
        auto [root, cancel_root] = goro::with_cancel(goro::background());
        std::vector<std::pair<Context, std::function<void()>>> all;
        all.emplace_back(root, cancel_root);
        for (int i = 0; i < 6; ++i) {
          auto child = goro::with_cancel(root);
          all.push_back(child);
          for (int j = 0; j < 3; ++j) {
            if (j == 2) all.push_back(goro::with_timeout(child.first, std::chrono::microseconds(rng() % 500)));
            else all.push_back(goro::with_cancel(child.first));
          }
        }
        std::atomic<long> finished{0}, bad{0};
        const long watchers = static_cast<long>(all.size());
        for (auto& [ctx, cancel] : all)
          goro::go([&, ctx = ctx] {
            if (goro::select(goro::on_recv(ctx.done()), goro::on_recv(goro::after(20s))) != 0) ++bad;
            if (!ctx.err()) ++bad;  // done() closed before err() is set would be a bug
            ++finished;
          });
        constexpr int kCancellers = 4;
        for (int k = 0; k < kCancellers; ++k)
          goro::go([&, seed = rng()] {
            std::mt19937 r(seed);
            for (int i = 0; i < 10; ++i) {
              all[r() % all.size()].second();
              if (i % 3 == 0) {
                auto [extra, cancel_extra] = goro::with_cancel(all[r() % all.size()].first);
                cancel_extra();
              }
              goro::yield();
            }
            all[0].second();  // the root last: everything ends
            ++finished;
          });
        REQUIRE(wait_count(finished, watchers + kCancellers));
        CHECK(bad.load() == 0);
        CHECK(children_of(root) == 0);
        for (auto& [ctx, cancel] : all) CHECK(is_done(ctx));
      }
    });
  });
}

// Go: once a context's Err() reports a cancellation, or a cancel() has returned, every
// descendant is cancelled. (Before the commit that added this test, a second canceller's cancel()
// returned, and the parent's err() was set, while the first canceller was still walking the
// children: in ~80% of rounds some were still live.)
TEST_CASE("once err() is set or a cancel() has returned, every descendant is cancelled") {
  goro::Config c;
  c.procs = 2;
  goro::run(c, [] {
    for (int round = 0; round < 20; ++round) {
      auto [parent, cancel] = goro::with_cancel(goro::background());
      std::vector<goro::Context> kids;
      std::vector<std::function<void()>> keep;
      for (int i = 0; i < 2000; ++i) {
        auto [kid, kid_cancel] = goro::with_cancel(i % 2 ? parent : (kids.empty() ? parent : kids.back()));
        kids.push_back(kid);
        keep.push_back(kid_cancel);
      }
      std::atomic<bool> start{false};
      goro::WaitGroup first;
      first.add(1);
      goro::go([&, cancel = cancel] {
        while (!start) {
        }
        cancel();
        first.done();
      });
      start = true;
      while (!parent.err()) {
      }
      long live = 0;
      for (const auto& kid : kids) live += !kid.err();
      CHECK(live == 0);
      cancel();  // the second canceller
      live = 0;
      for (const auto& kid : kids) live += !kid.err();
      CHECK(live == 0);
      first.wait();
    }
  });
}

// A canceller that waits for another's walk must not be abandoned there when the runtime stops:
// its own nodes would stay unsettled, and err() on them would spin for ever. (The commit that
// made err() wait had it wait at a scheduling point; this test then hung.)
TEST_CASE("a canceller waiting for another's walk when the runtime stops still settles") {
  goro::Context parent = goro::background();
  std::function<void()> cancel_parent;
  std::thread other;
  goro::run([&] {
    auto [p, cp] = goro::with_cancel(goro::background());
    auto [child, cancel_child] = goro::with_cancel(p);
    parent = p;
    cancel_parent = cp;
    std::vector<goro::Context> kids;  // a big subtree under child: a long walk
    for (int i = 0; i < 100000; ++i) kids.push_back(goro::with_cancel(child).first);
    std::atomic<bool> started{false};
    other = std::thread([cancel_child, &started] {
      started = true;
      cancel_child();
    });
    while (!started) std::this_thread::yield();
    goro::go([cp = cp] { cp(); });  // finds child taken by the other thread: waits for its walk
    goro::sleep_for(2ms);
  });
  other.join();
  CHECK(parent.err() == goro::errc::canceled);  // a hang here is the failure
  cancel_parent();
}

TEST_CASE("contexts from plain threads") {
  each_procs([](goro::Config c) {
    goro::run(c, [] {
      auto [parent, cancel_parent] = goro::with_cancel(goro::background());
      std::atomic<long> ok{0}, timed_out{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < 3; ++t)
        threads.emplace_back([&, parent = parent] {
          auto [mine, cancel] = goro::with_timeout(parent, 1h);
          auto [short_one, cancel_short] = goro::with_timeout(mine, 5ms);
          short_one.done().recv();  // blocks the thread until the deadline
          if (short_one.err() == goro::errc::deadline_exceeded && !mine.err()) ++ok;
          ++timed_out;
          mine.done().recv();  // until the main goroutine cancels the parent
          if (mine.err() == goro::errc::canceled) ++ok;
          cancel_short();
          cancel();
        });
      goro::sleep_for(20ms);
      // Cancelling from a thread wakes a goroutine.
      auto [other, cancel_other] = goro::with_cancel(parent);
      std::thread canceller([cancel_other = cancel_other] {
        std::this_thread::sleep_for(5ms);
        cancel_other();
      });
      REQUIRE(wait_done(other));
      CHECK(other.err() == goro::errc::canceled);
      REQUIRE(wait_count(timed_out, 3));
      cancel_parent();
      goro::blocking([&] {
        canceller.join();
        for (auto& t : threads) t.join();
      });
      CHECK(ok.load() == 6);
      CHECK(children_of(parent) == 0);
    });
  });
  // No runtime: with_cancel works from threads alone.
  auto [ctx, cancel] = goro::with_cancel(goro::background());
  std::thread t([ctx = ctx] { ctx.done().recv(); });
  cancel();
  t.join();
  CHECK(ctx.err() == goro::errc::canceled);
}

TEST_CASE("deadlock detection and deadlines") {
  each_procs([](goro::Config c) {
    // Waiting on a context with a deadline is not a deadlock: its timer is pending.
    goro::run(c, [] {
      auto [ctx, cancel] = goro::with_timeout(goro::background(), 300ms);
      ctx.done().recv();
      CHECK(ctx.err() == goro::errc::deadline_exceeded);
    });
    // Waiting on one that nothing will cancel is.
    const std::string report = deadlock_report(c, [] {
      auto [ctx, cancel] = goro::with_cancel(goro::background());
      auto [timed, cancel_timed] = goro::with_timeout(ctx, 1h);
      cancel_timed();  // its timer goes with it
      ctx.done().recv();
    });
    INFO(report);
    CHECK(starts_with(report, "all goroutines are asleep - deadlock!"));
    CHECK(contains(report, "goroutine 1 [chan receive, "));
  });
}

TEST_CASE("a long chain of contexts is cancelled and destroyed without exhausting a stack") {
  goro::run([] {
    const int depth = 10000;
    auto [root, cancel_root] = goro::with_cancel(goro::background());
    std::vector<std::pair<Context, std::function<void()>>> chain;
    Context at = root;
    for (int i = 0; i < depth; ++i) {
      chain.push_back(goro::with_cancel(at));
      at = chain.back().first;
    }
    cancel_root();
    CHECK(is_done(at));
    CHECK(at.err() == goro::errc::canceled);
  });
}
