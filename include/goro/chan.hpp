// goro/chan.hpp — Go's channels.
//
//   goro::chan<int> results(16);           // buffered; chan<int>() is unbuffered
//   goro::go([results] {                   // handles are cheap to copy; copies share the channel
//     for (int i = 0; i < 3; ++i) results.send(i * i);
//     results.close();
//   });
//   for (int v : results) use(v);          // receives until closed and drained
//
// A chan<T> is a handle, like a shared_ptr: copies share one channel, and the operations are
// const (they change the channel, not the handle), so a lambda capturing a channel by copy needs
// no `mutable`.
//
// Go's semantics: an unbuffered send completes when a receiver takes the value; a buffered
// channel is FIFO; close() wakes every blocked receiver (nullopt once drained) and every blocked
// sender (closed_channel); operations on a nil channel block forever. Goroutines and plain
// threads may share a channel; a plain thread that blocks sleeps, it does not spin.
//
// T may be move-only, non-default-constructible, or empty — an empty, trivial T (std::monostate,
// a `struct {}`) is not stored at all. Values move while the channel is locked; see below for a
// move that throws.
#pragma once

#include <goro/detail/chan_core.hpp>

#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace goro {

struct closed_channel : std::logic_error {
  using std::logic_error::logic_error;
};

// T is moved while the channel is locked, where an exception could not be undone: a move
// constructor that throws there ends the program (std::terminate). Elsewhere (out of a receive)
// the exception propagates and the value is destroyed. A move that is not declared noexcept but
// does not throw in practice (std::deque's, which may allocate) is fine.
template <class T>
class chan {
  static_assert(std::is_move_constructible_v<T>, "goro::chan<T>: T must be move constructible");
  static_assert(!std::is_reference_v<T> && !std::is_const_v<T>, "goro::chan<T>: T must be an object type");

 public:
  chan() : chan(0) {}
  // Throws std::length_error if `capacity` elements could not fit in memory at all.
  explicit chan(std::size_t capacity) : core_(detail::chan_make(&detail::elem_ops<T>, capacity)) {}
  static chan nil() { return chan(Adopt{}, nullptr); }

  chan(const chan& other) noexcept : core_(other.core_) { detail::chan_retain(core_); }
  chan(chan&& other) noexcept : core_(std::exchange(other.core_, nullptr)) {}
  chan& operator=(chan other) noexcept {
    std::swap(core_, other.core_);
    return *this;
  }
  ~chan() { detail::chan_release(core_); }

  explicit operator bool() const { return core_ != nullptr; }

  // Blocks until a receiver (or buffer space) takes v. Throws closed_channel if closed.
  void send(T v) const { detail::chan_send(core_, std::addressof(v), true); }

  // Blocks until a value arrives; nullopt once the channel is closed and drained.
  std::optional<T> recv() const { return receive(true); }

  // Never blocks. True if sent (v is then moved-from); false, with v untouched, if no receiver
  // or buffer space is ready. Throws closed_channel if closed.
  bool try_send(T& v) const { return detail::chan_send(core_, std::addressof(v), false); }

  // Never blocks: a value if one is ready; nullopt if none is, or the channel is closed.
  std::optional<T> try_recv() const { return receive(false); }

  // Throws closed_channel if already closed, std::logic_error on a nil channel.
  void close() const { detail::chan_close(core_); }

  std::size_t size() const { return detail::chan_size(core_); }          // Go's len
  std::size_t capacity() const { return detail::chan_capacity(core_); }  // Go's cap

  friend bool operator==(const chan& a, const chan& b) { return a.core_ == b.core_; }

  // for (T v : ch): receives until the channel is closed and drained. Each value is handed out
  // as T&& (as std::move_iterator does), so that it moves into the loop variable and a move-only
  // T works: bind it with T, auto, auto&& or const auto& — not auto&.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = T*;
    using reference = T&&;

    iterator() = default;
    explicit iterator(const chan* ch) : ch_(ch) { ++*this; }
    T&& operator*() { return std::move(*value_); }
    T* operator->() { return std::addressof(*value_); }
    iterator& operator++() {
      value_.reset();
      if (auto v = ch_->recv()) value_.emplace(std::move(*v));
      else ch_ = nullptr;
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) { return a.ch_ == b.ch_; }

   private:
    const chan* ch_ = nullptr;
    std::optional<T> value_;
  };
  iterator begin() const { return iterator(this); }
  iterator end() const { return iterator(); }

  // For select (goro/select.hpp).
  detail::ChanCore* core() const { return core_; }

 private:
  struct Adopt {};
  chan(Adopt, detail::ChanCore* core) : core_(core) {}

  std::optional<T> receive(bool block) const {
    if constexpr (detail::kStoresNothing<T>) {
      if (detail::chan_recv(core_, nullptr, block) == detail::Recv::value) return T{};
      return std::nullopt;
    } else {
      alignas(T) unsigned char slot[sizeof(T)];
      if (detail::chan_recv(core_, slot, block) != detail::Recv::value) return std::nullopt;
      detail::SlotValue<T> v(slot);
      return std::optional<T>(v.take());
    }
  }

  detail::ChanCore* core_;
};

}  // namespace goro
