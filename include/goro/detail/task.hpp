// goro/detail/task.hpp — the function a goroutine runs, stored inside the goroutine itself.
//
// Not part of the API. `go(f, args...)` builds the closure directly in a TaskSlot that lives in
// the runtime's goroutine record, so a spawn whose closure fits in kTaskInlineBytes allocates
// nothing. Bigger (or over-aligned) closures go to the heap.
#pragma once

#include <cstddef>
#include <functional>
#include <new>
#include <tuple>
#include <type_traits>
#include <utility>

namespace goro::detail {

inline constexpr std::size_t kTaskInlineBytes = 48;
inline constexpr std::size_t kTaskInlineAlign = 16;

struct TaskSlot {
  alignas(kTaskInlineAlign) unsigned char storage[kTaskInlineBytes];
  void (*run)(TaskSlot&) = nullptr;   // invokes the function, then destroys it (also if it throws)
  void (*drop)(TaskSlot&) = nullptr;  // destroys it without invoking it (goroutine abandoned)
};

// `f(args...)` with std::thread's rules: everything decay-copied, invoked as rvalues.
template <class F, class... Args>
struct BoundCall {
  F f;
  std::tuple<Args...> args;
  void operator()() {
    std::apply([this](Args&... a) { std::invoke(std::move(f), std::move(a)...); }, args);
  }
};

template <class T>
void emplace_task(TaskSlot& slot, T&& fn) {
  using Fn = std::decay_t<T>;
  if constexpr (sizeof(Fn) <= kTaskInlineBytes && alignof(Fn) <= kTaskInlineAlign) {
    ::new (static_cast<void*>(slot.storage)) Fn(std::forward<T>(fn));
    slot.run = [](TaskSlot& s) {
      Fn* f = std::launder(reinterpret_cast<Fn*>(s.storage));
      struct Destroy {
        Fn* f;
        ~Destroy() { f->~Fn(); }
      } destroy{f};
      std::invoke(std::move(*f));
    };
    slot.drop = [](TaskSlot& s) { std::launder(reinterpret_cast<Fn*>(s.storage))->~Fn(); };
  } else {
    Fn* heap = new Fn(std::forward<T>(fn));
    ::new (static_cast<void*>(slot.storage)) Fn*(heap);
    slot.run = [](TaskSlot& s) {
      struct Delete {
        Fn* f;
        ~Delete() { delete f; }
      } owner{*std::launder(reinterpret_cast<Fn**>(s.storage))};
      std::invoke(std::move(*owner.f));
    };
    slot.drop = [](TaskSlot& s) { delete *std::launder(reinterpret_cast<Fn**>(s.storage)); };
  }
}

template <class F, class... Args>
void emplace_call(TaskSlot& slot, F&& f, Args&&... args) {
  if constexpr (sizeof...(Args) == 0) {
    emplace_task(slot, std::forward<F>(f));
  } else {
    emplace_task(slot, BoundCall<std::decay_t<F>, std::decay_t<Args>...>{
                           std::forward<F>(f), {std::forward<Args>(args)...}});
  }
}

}  // namespace goro::detail
