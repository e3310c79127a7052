// runtime/context/context.cpp — goro::Context (Go's context package).
//
// A cancellable context is a ContextNode: its done channel, its error, its deadline, and the
// children to cancel with it. Ownership runs upwards only: a child holds its parent, a parent
// holds its children weakly. So a child that its owner drops without cancelling unlinks itself
// as it dies, and a child cancelled on its own unlinks itself at once — a long-lived parent
// never accumulates dead children. A deadline is an after_func timer holding the node weakly.
//
// Cancellation takes the node's lock only to flip it to done and detach its children; the
// children are cancelled after the lock is dropped, and a child unlinking itself takes only its
// parent's lock: no two context locks are ever held together. Go cancels the children while
// holding the parent's lock, and Err() takes it: once Err() reports a cancellation, or any
// cancel() has returned, every descendant is cancelled too. goro keeps that promise with
// `settled`, set once a node's whole subtree is done: err() and a second canceller wait for it.
#include <goro/context.hpp>

#include "os/clock.hpp"
#include "os/spinlock.hpp"
#include "sched/wait.hpp"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace goro {
namespace detail {

// Closes a context's done(). The program may have closed it itself (a handle to it is public),
// or a deadline's timer may have: it is closed all the same, and whoever closes goes on.
void close_done(const chan<std::monostate>& done) {
  try {
    done.close();
  } catch (const closed_channel&) {
  }
}

// Whether handles of done() exist besides its context's own and its deadline timer's.
bool done_held_elsewhere(const chan<std::monostate>& done, bool has_timer) {
  return reinterpret_cast<const ChanHeader*>(done.core())->refs.load(std::memory_order_acquire) >
         (has_timer ? 2 : 1);
}

// A dropped context's done() channel that someone still holds (a goroutine given only
// ctx.done(), Go's `stop <-chan struct{}`), with its deadline's timer if it has one (whose
// function holds a handle too): a cancellation of an ancestor still closes it (leave_parent).
struct Orphan {
  chan<std::monostate> done;
  std::optional<Timer> timer;

  bool held() const { return done_held_elsewhere(done, timer.has_value()); }
  void close() {
    if (timer) timer->stop();
    close_done(done);
  }
};
constexpr std::size_t kPruneOrphansAt = 8;  // a prune is a pass over the list: not too often

struct ContextNode : std::enable_shared_from_this<ContextNode> {
  std::shared_ptr<ContextNode> parent;  // nearest cancellable ancestor; null under background
  std::optional<time_point> deadline;
  chan<std::monostate> done;            // closed on cancellation

  rt::os::SpinLock lock;
  std::error_code err;
  std::atomic<bool> settled{false};  // cancelled, and so is every descendant
  std::unordered_map<ContextNode*, std::weak_ptr<ContextNode>> children;
  std::optional<Timer> timer;
  std::vector<Orphan> orphans;              // of dropped descendants: closed with this node
  std::size_t prune_at = kPruneOrphansAt;  // of orphans nobody holds any more, as the list grows

  ~ContextNode() {
    // Dropped without cancel (no handle, no child holds it): nobody can see its deadline pass, so
    // its timer goes now rather than stay armed until then, keeping this memory (make_shared: the
    // timer's weak reference keeps the block) and counting as a possible waker for deadlock
    // detection. Unless a handle of done() is kept (done() is public): then the deadline must
    // still close it, as Go's would, and the timer stays to do so (see with_deadline).
    const bool done_held = !err && done_held_elsewhere(done, timer.has_value());
    if (timer && !done_held) timer->stop();
    leave_parent(done_held);
    // Dropping the last reference to a long chain of contexts frees its ancestors one by one:
    // do that in a loop here, not recursively through `parent`'s destructor, so the depth of a
    // chain is not limited by the stack. (No goroutine switch can happen in between.)
    thread_local std::vector<std::shared_ptr<ContextNode>>* releasing = nullptr;
    if (!parent) return;
    if (releasing) {
      releasing->push_back(std::move(parent));  // the outermost destructor releases it
      return;
    }
    std::vector<std::shared_ptr<ContextNode>> pending;
    pending.push_back(std::move(parent));
    releasing = &pending;
    while (!pending.empty()) {
      std::shared_ptr<ContextNode> p = std::move(pending.back());
      pending.pop_back();
      p.reset();  // may push p's parent
    }
    releasing = nullptr;
  }

  // Unlinks this node from its parent: a cancelled node (whose orphans finish() has closed), or a
  // dying one, which hands the parent the done() channels that someone still holds: its own if
  // `done_held` (with its timer), and its orphans. A parent already cancelled (its walk could
  // not reach this dying node) closes them now. Without a parent nothing can cancel them any
  // more; their deadlines' timers still close them.
  void leave_parent(bool done_held) {
    if (!parent) return;
    std::vector<Orphan> held;
    held.swap(orphans);  // no lock: no child adds to it any more (all gone, or we are cancelled)
    if (done_held) held.push_back({done, std::move(timer)});
    std::vector<Orphan> pruned;
    bool close_now = false;
    {
      std::lock_guard guard(parent->lock);
      parent->children.erase(this);
      if (!held.empty()) {
        close_now = static_cast<bool>(parent->err);
        if (!close_now) parent->adopt(held, pruned);
      }
    }
    for (auto& o : pruned)
      if (o.timer) o.timer->stop();
    if (close_now)
      for (auto& o : held) o.close();
  }

  // Under the lock. Moves out, to `pruned`, the orphans nobody holds any more (their timers are
  // to be stopped after the unlock), once the list has doubled since the last prune.
  void adopt(std::vector<Orphan>& held, std::vector<Orphan>& pruned) {
    if (orphans.size() >= prune_at) {
      auto gone = std::partition(orphans.begin(), orphans.end(), [](const Orphan& o) { return o.held(); });
      std::move(gone, orphans.end(), std::back_inserter(pruned));
      orphans.erase(gone, orphans.end());
      prune_at = std::max(kPruneOrphansAt, 2 * orphans.size());
    }
    std::move(held.begin(), held.end(), std::back_inserter(orphans));
  }

  void cancel(std::error_code why, bool unlink) {
    // Iterative, not recursive: a deep tree must not exhaust the canceller's stack.
    std::vector<std::shared_ptr<ContextNode>> descendants;
    if (!finish(why, descendants)) {
      wait_settled();  // cancelled by someone else, perhaps still at work
      return;
    }
    struct Settle {  // at the end, or if the walk throws (bad_alloc): nobody may wait for ever
      ContextNode* self;
      std::vector<std::shared_ptr<ContextNode>> ours, theirs;
      ~Settle() {
        for (const auto& node : theirs) node->wait_settled();
        for (const auto& node : ours) node->settled.store(true, std::memory_order_release);
        self->settled.store(true, std::memory_order_release);
      }
    } settle{this, {}, {}};
    while (!descendants.empty()) {
      std::shared_ptr<ContextNode> child = std::move(descendants.back());
      descendants.pop_back();
      // Ours to finish (they unlink from us: done), or cancelled on their own meanwhile.
      auto& list = child->finish(why, descendants) ? settle.ours : settle.theirs;
      list.push_back(std::move(child));
    }
    if (unlink) leave_parent(false);
  }

  // Waits out another canceller's walk. Not at a scheduling point (no goro::yield): a goroutine
  // abandoned here, the runtime stopping, would leave its own walk unsettled for ever. The walk
  // waited for has none either, so it runs on another thread meanwhile and the wait is short.
  void wait_settled() const {
    while (!settled.load(std::memory_order_acquire)) std::this_thread::yield();
  }

  // Marks this node done (false if it already was) and appends its live children to `out`.
  bool finish(std::error_code why, std::vector<std::shared_ptr<ContextNode>>& out) {
    std::unordered_map<ContextNode*, std::weak_ptr<ContextNode>> kids;
    std::optional<Timer> t;
    std::vector<Orphan> held;
    {
      std::lock_guard guard(lock);
      if (err) return false;  // already done: done() is closed exactly once
      err = why;
      close_done(done);  // even if the program closed it: else this subtree never settles
      kids.swap(children);
      t.swap(timer);
      held.swap(orphans);
    }
    if (t) t->stop();
    for (auto& o : held) o.close();
    for (auto& [raw, weak] : kids)
      if (auto child = weak.lock()) out.push_back(std::move(child));
    return true;
  }
};

}  // namespace detail

namespace {

struct Category : std::error_category {
  const char* name() const noexcept override { return "goro.context"; }
  std::string message(int e) const override {
    switch (static_cast<errc>(e)) {
      case errc::canceled: return "context canceled";
      case errc::deadline_exceeded: return "context deadline exceeded";
    }
    return "unknown context error";
  }
  std::error_condition default_error_condition(int e) const noexcept override {
    if (static_cast<errc>(e) == errc::deadline_exceeded) return std::errc::timed_out;
    if (static_cast<errc>(e) == errc::canceled) return std::errc::operation_canceled;
    return {e, *this};
  }
};

using detail::ContextNode;

}  // namespace

const std::error_category& context_category() noexcept {
  static const Category category;
  return category;
}

chan<std::monostate> Context::done() const { return node_ ? node_->done : chan<std::monostate>::nil(); }

std::error_code Context::err() const {
  if (!node_) return {};
  std::error_code e;
  {
    std::lock_guard guard(node_->lock);
    e = node_->err;
  }
  if (e) node_->wait_settled();  // as Go's: a cancelled context's descendants are cancelled
  return e;
}

std::optional<time_point> Context::deadline() const { return node_ ? node_->deadline : std::nullopt; }

Context background() { return Context(nullptr); }

std::pair<Context, std::function<void()>> with_cancel(Context parent) {
  rt::note_plain_thread();  // a plain thread holding a cancel function may wake a goroutine later
  auto node = std::make_shared<ContextNode>();
  node->parent = parent.node_;
  if (node->parent) node->deadline = node->parent->deadline;  // inherited
  std::error_code parent_err;
  if (node->parent) {
    std::lock_guard guard(node->parent->lock);
    parent_err = node->parent->err;
    if (!parent_err) node->parent->children.emplace(node.get(), node);
  }
  if (parent_err) node->cancel(parent_err, false);  // born cancelled: the parent already is
  std::function<void()> cancel = [node] { node->cancel(errc::canceled, true); };
  return {Context(std::move(node)), std::move(cancel)};
}

std::pair<Context, std::function<void()>> with_deadline(Context parent, time_point t) {
  if (auto pd = parent.deadline(); pd && *pd <= t) return with_cancel(std::move(parent));  // clipped
  auto [ctx, cancel] = with_cancel(std::move(parent));
  ctx.node_->deadline = t;
  // Compare before subtracting: t - now overflows for a t far in the past (time_point::min(),
  // or with_timeout's now + nanoseconds::min()) and wraps into a deadline that never passes.
  const auto now = std::chrono::steady_clock::now();
  if (t <= now) {
    ctx.node_->cancel(errc::deadline_exceeded, true);
    return {std::move(ctx), std::move(cancel)};
  }
  if (ctx.err()) return {std::move(ctx), std::move(cancel)};  // cancelled with its parent: no timer
  std::weak_ptr<ContextNode> weak = ctx.node_;
  // With the node gone, a kept handle of done() may still wait (~ContextNode): close it alone.
  Timer timer = after_func(t - now, [weak, done = ctx.node_->done] {
    if (auto node = weak.lock()) node->cancel(errc::deadline_exceeded, true);
    else detail::close_done(done);
  });
  {
    std::lock_guard guard(ctx.node_->lock);
    if (!ctx.node_->err) ctx.node_->timer.emplace(std::move(timer));
    else timer.stop();  // cancelled meanwhile (by its parent)
  }
  return {std::move(ctx), std::move(cancel)};
}

std::pair<Context, std::function<void()>> with_timeout(Context parent, std::chrono::nanoseconds d) {
  const auto now = std::chrono::steady_clock::now();
  const auto never = std::chrono::steady_clock::time_point::max();  // a huge d must not wrap
  return with_deadline(std::move(parent), d > never - now ? never : now + d);
}

}  // namespace goro
