// goro/select.hpp — Go's select.
//
//   switch (goro::select(goro::on_recv(jobs, [](std::optional<Job> j) { ... }),
//                        goro::on_send(out, result),
//                        goro::on_default([] { ... }))) { ... }   // the index of the case taken
//
// Blocks until one case can proceed, performs exactly that operation, then runs its handler —
// after every channel is released, so a handler may use the same channels. Among several ready
// cases one is chosen uniformly at random. A case on a nil channel never proceeds; a select
// with no case that can ever proceed and no default blocks forever. A send case chosen on a
// closed channel throws closed_channel; a receive case on a closed channel proceeds with
// nullopt. The same channel may appear in several cases.
#pragma once

#include <goro/chan.hpp>
#include <goro/detail/callable.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace goro {

namespace detail {

struct SelectCase {
  ChanCore* chan;  // null: a nil channel, never ready
  void* elem;      // send: the value; receive: raw storage for the result
  bool is_send;
};
struct SelectOutcome {
  std::size_t index;  // among the cases passed; == n if the default was taken
  Recv received;      // for a receive case: value or closed
};
SelectOutcome select_impl(SelectCase* cases, std::size_t n, bool has_default);

struct NoHandler {
  template <class... A>
  void operator()(A&&...) const {}
};

// What a case keeps of its channel: nothing (made from a named channel, it only points to it),
// or the handle of a temporary one (Owner = chan<T>).
struct Unowned {};

template <class T, class F, class Owner = Unowned>
struct RecvCase {
  ChanCore* chan;
  F handler;
  alignas(T) unsigned char slot[kStoresNothing<T> ? 1 : sizeof(T)];
  [[no_unique_address]] Owner owned{};

  SelectCase erase() { return {chan, kStoresNothing<T> ? nullptr : slot, false}; }
  void finish(Recv r) {
    static_assert(std::is_invocable_v<F&, std::optional<T>> || std::is_invocable_v<F&>,
                  "goro::on_recv(ch, handler): handler must take std::optional<T> (by value, const& or "
                  "&&) or nothing");
    std::optional<T> value;
    if (r == Recv::value) {
      if constexpr (kStoresNothing<T>) {
        value.emplace();
      } else {
        SlotValue<T> v(slot);
        value.emplace(v.take());
      }
    }
    if constexpr (std::is_invocable_v<F&, std::optional<T>>) handler(std::move(value));
    else if constexpr (std::is_invocable_v<F&>) handler();
  }
};

template <class T, class F, class Owner = Unowned>
struct SendCase {
  ChanCore* chan;
  T value;
  F handler;
  [[no_unique_address]] Owner owned{};

  SelectCase erase() { return {chan, std::addressof(value), true}; }
  void finish(Recv) {
    static_assert(std::is_invocable_v<F&>, "goro::on_send(ch, v, handler): handler must take nothing");
    handler();
  }
};

template <class F>
struct DefaultCase {
  F handler;

  void finish() {
    static_assert(std::is_invocable_v<F&>, "goro::on_default(handler): handler must take nothing");
    if constexpr (std::is_invocable_v<F&>) handler();
  }
};

template <class C>
inline constexpr bool is_default = false;
template <class F>
inline constexpr bool is_default<DefaultCase<F>> = true;

template <class C>
inline constexpr bool is_case = is_default<C>;
template <class T, class F, class Owner>
inline constexpr bool is_case<RecvCase<T, F, Owner>> = true;
template <class T, class F, class Owner>
inline constexpr bool is_case<SendCase<T, F, Owner>> = true;

}  // namespace detail

// A case made from a temporary channel (goro::after(d), a function's result) holds it, so that
// the case may be made before the select; one made from a named channel only points to it, and
// costs nothing more.
template <class T, class F>
auto on_recv(const chan<T>& ch, F f) {
  detail::check_callable(f, "goro: on_recv with a null handler");
  return detail::RecvCase<T, F>{ch.core(), std::move(f), {}};
}
template <class T, class F>
auto on_recv(chan<T>&& ch, F f) {
  detail::check_callable(f, "goro: on_recv with a null handler");
  return detail::RecvCase<T, F, chan<T>>{ch.core(), std::move(f), {}, std::move(ch)};
}
template <class T>
auto on_recv(const chan<T>& ch) {
  return detail::RecvCase<T, detail::NoHandler>{ch.core(), {}, {}};
}
template <class T>
auto on_recv(chan<T>&& ch) {
  return detail::RecvCase<T, detail::NoHandler, chan<T>>{ch.core(), {}, {}, std::move(ch)};
}
// T comes from the channel alone: v converts to it as for ch.send(v) ("text" into a
// chan<std::string>).
template <class T, class F>
auto on_send(const chan<T>& ch, std::type_identity_t<T> v, F f) {
  detail::check_callable(f, "goro: on_send with a null handler");
  return detail::SendCase<T, F>{ch.core(), std::move(v), std::move(f)};
}
template <class T, class F>
auto on_send(chan<T>&& ch, std::type_identity_t<T> v, F f) {
  detail::check_callable(f, "goro: on_send with a null handler");
  return detail::SendCase<T, F, chan<T>>{ch.core(), std::move(v), std::move(f), std::move(ch)};
}
template <class T>
auto on_send(const chan<T>& ch, std::type_identity_t<T> v) {
  return detail::SendCase<T, detail::NoHandler>{ch.core(), std::move(v), {}};
}
template <class T>
auto on_send(chan<T>&& ch, std::type_identity_t<T> v) {
  return detail::SendCase<T, detail::NoHandler, chan<T>>{ch.core(), std::move(v), {}, std::move(ch)};
}
template <class F>
auto on_default(F f) {
  detail::check_callable(f, "goro: on_default with a null handler");
  return detail::DefaultCase<F>{std::move(f)};
}

template <class... Cases>
std::size_t select(Cases&&... cases) {
  static_assert((detail::is_case<std::decay_t<Cases>> && ...),
                "goro::select: each argument must be a case made by goro::on_recv, on_send or on_default");
  constexpr std::size_t kDefaults = (0 + ... + (detail::is_default<std::decay_t<Cases>> ? 1 : 0));
  static_assert(kDefaults <= 1, "goro::select: at most one on_default case");
  constexpr std::size_t kChannelCases = sizeof...(Cases) - kDefaults;

  // Positions of the channel cases among all the arguments.
  [[maybe_unused]] constexpr auto positions = [] {
    std::array<std::size_t, kChannelCases + 1> pos{};
    std::size_t arg = 0, k = 0;
    ((detail::is_default<std::decay_t<Cases>> ? void(++arg) : void(pos[k++] = arg++)), ...);
    return pos;
  }();

  std::array<detail::SelectCase, kChannelCases + 1> erased;  // each channel case fills its own
  {
    [[maybe_unused]] std::size_t k = 0;
    (
        [&](auto& c) {
          using C = std::decay_t<decltype(c)>;
          if constexpr (!detail::is_default<C> && detail::is_case<C>) erased[k++] = c.erase();
        }(cases),
        ...);
  }
  [[maybe_unused]] const detail::SelectOutcome out = detail::select_impl(erased.data(), kChannelCases, kDefaults != 0);

  std::size_t taken = 0;
  {
    [[maybe_unused]] std::size_t arg = 0, k = 0;
    (
        [&](auto& c) {
          using C = std::decay_t<decltype(c)>;
          if constexpr (detail::is_default<C>) {
            if (out.index == kChannelCases) {
              taken = arg;
              c.finish();
            }
          } else if constexpr (detail::is_case<C>) {
            if (k == out.index) {
              taken = positions[k];
              c.finish(out.received);
            }
            ++k;
          }
          ++arg;
        }(cases),
        ...);
  }
  return taken;
}

}  // namespace goro
