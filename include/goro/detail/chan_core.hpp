// goro/detail/chan_core.hpp — the type-erased channel that chan<T> and select wrap.
//
// Not part of the API. The channel algorithm (runtime/chan/) works on untyped elements through
// an ElemOps table: a trivially copyable T moves with memcpy, anything else through its move
// constructor. Only the reference count is inline, so copying a chan<T> handle costs one atomic
// increment and no call.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace goro::detail {

struct ElemOps {
  std::size_t size;   // bytes per buffered element; 0: an empty type, nothing is stored
  std::size_t align;
  bool trivial;       // moves are memcpy and destruction a no-op
  void (*move_construct)(void* dst, void* src) noexcept;  // placement-new T(std::move(*src))
  void (*destroy)(void* p) noexcept;
};

template <class T>
inline constexpr bool kStoresNothing = std::is_empty_v<T> && std::is_trivially_default_constructible_v<T> &&
                                       std::is_trivially_copyable_v<T>;

template <class T>
inline constexpr ElemOps elem_ops{
    kStoresNothing<T> ? 0 : sizeof(T),
    alignof(T),
    std::is_trivially_copyable_v<T>,
    [](void* dst, void* src) noexcept { ::new (dst) T(std::move(*static_cast<T*>(src))); },
    [](void* p) noexcept { static_cast<T*>(p)->~T(); },
};

// The value a receive left in a slot: take() moves it out, and it is destroyed when this goes,
// whichever way — a move out of it that throws must not leak it.
template <class T>
class SlotValue {
 public:
  explicit SlotValue(void* slot) : v_(std::launder(static_cast<T*>(slot))) {}
  ~SlotValue() { v_->~T(); }
  SlotValue(const SlotValue&) = delete;
  SlotValue& operator=(const SlotValue&) = delete;
  T&& take() { return std::move(*v_); }

 private:
  T* v_;
};

struct ChanHeader {
  std::atomic<long> refs{1};
};
struct ChanCore;  // runtime/chan/chan.hpp

ChanCore* chan_make(const ElemOps* ops, std::size_t capacity);  // std::length_error: out of range
void chan_destroy(ChanCore* c) noexcept;  // the last handle is gone

inline void chan_retain(ChanCore* c) noexcept {
  if (c) reinterpret_cast<ChanHeader*>(c)->refs.fetch_add(1, std::memory_order_relaxed);
}
inline void chan_release(ChanCore* c) noexcept {
  if (c && reinterpret_cast<ChanHeader*>(c)->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
    chan_destroy(c);
}

// Moves *value into the channel. `block` false: returns false at once if nothing can take it.
// A nil channel (null) blocks forever. Throws closed_channel if the channel is (or becomes)
// closed; *value is then untouched.
bool chan_send(ChanCore* c, void* value, bool block);

enum class Recv { nothing, value, closed };
// Receives into `out` (raw storage for one element; unused for empty types). `block` false:
// returns Recv::nothing at once if nothing is ready, also if the channel is closed.
Recv chan_recv(ChanCore* c, void* out, bool block);

void chan_close(ChanCore* c);
std::size_t chan_size(const ChanCore* c) noexcept;
std::size_t chan_capacity(const ChanCore* c) noexcept;

}  // namespace goro::detail
