// goro/context.hpp — Go's context.Context: cancellation and deadlines across goroutines.
//
//   auto [ctx, cancel] = goro::with_timeout(goro::background(), 2s);
//   goro::go([ctx] { fetch(ctx); });
//   goro::select(goro::on_recv(results, ...),
//                goro::on_recv(ctx.done(), [&](auto) { fail(ctx.err()); }));
//   cancel();  // always: it releases the context's resources
//
// Cancelling a context cancels all its descendants; done() is closed exactly once; err() says
// why. A child cancelled on its own is unlinked from its parent at once, so short-lived
// children never pile up under a long-lived parent. A deadline later than the parent's is
// clipped to the parent's. Deadlines need a running runtime (they are goro timers).
#pragma once

#include <goro/chan.hpp>
#include <goro/time.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>
#include <variant>

namespace goro {

enum class errc {
  canceled = 1,           // "context canceled"; equivalent to std::errc::operation_canceled
  deadline_exceeded = 2,  // "context deadline exceeded"; equivalent to std::errc::timed_out
};

const std::error_category& context_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), context_category()}; }

namespace detail {
struct ContextNode;
}

class Context {
 public:
  // A nil channel for background() (never done); otherwise closed on cancellation.
  chan<std::monostate> done() const;
  // {} while live; errc::canceled or errc::deadline_exceeded once done.
  std::error_code err() const;
  std::optional<time_point> deadline() const;

  friend Context background();
  friend std::pair<Context, std::function<void()>> with_deadline(Context parent, time_point t);
  friend std::pair<Context, std::function<void()>> with_cancel(Context parent);

 private:
  explicit Context(std::shared_ptr<detail::ContextNode> node) : node_(std::move(node)) {}
  std::shared_ptr<detail::ContextNode> node_;  // null: background
};

Context background();
std::pair<Context, std::function<void()>> with_cancel(Context parent);
std::pair<Context, std::function<void()>> with_deadline(Context parent, time_point t);
std::pair<Context, std::function<void()>> with_timeout(Context parent, std::chrono::nanoseconds d);
// Any unit, saturated rather than overflowing (goro/time.hpp): seconds::max() gives the deadline
// time_point::max(), which never passes.
template <class Rep, class Period>
std::pair<Context, std::function<void()>> with_timeout(Context parent, std::chrono::duration<Rep, Period> d) {
  return with_timeout(std::move(parent), detail::saturated_ns(d));
}
template <class Duration>
std::pair<Context, std::function<void()>> with_deadline(Context parent,
                                                        std::chrono::time_point<std::chrono::steady_clock, Duration> t) {
  return with_deadline(std::move(parent), detail::saturated_time(t));
}

}  // namespace goro

template <>
struct std::is_error_code_enum<goro::errc> : std::true_type {};
