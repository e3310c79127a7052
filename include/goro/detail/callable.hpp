// goro/detail/callable.hpp — the null check of the functions goro is handed. Not part of the API.
#pragma once

#include <functional>
#include <stdexcept>
#include <type_traits>

namespace goro::detail {

template <class>
inline constexpr bool is_std_function = false;
template <class Signature>
inline constexpr bool is_std_function<std::function<Signature>> = true;

// Throws std::invalid_argument(message) if f is a null function pointer, member pointer or an
// empty std::function: go(), run(), after_func() and select's cases check at the call, as Go's
// `go` of a nil func panics at the go statement, rather than fail later where nobody waits for
// it (a crash, or bad_function_call stopping the runtime). Any other callable is always something.
template <class F>
void check_callable(const F& f, const char* message) {
  using D = std::remove_cvref_t<F>;
  if constexpr (std::is_pointer_v<D> || std::is_member_pointer_v<D> || is_std_function<D>)
    if (!f) throw std::invalid_argument(message);
}

}  // namespace goro::detail
