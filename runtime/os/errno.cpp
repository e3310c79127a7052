// runtime/os/errno.cpp — see errno.hpp.
#include "os/errno.hpp"

#include <cerrno>

namespace goro::rt::os {

// noipa: not inlined, and the caller learns nothing about them (not even that they are pure).
[[gnu::noinline, gnu::noipa]] int errno_now() noexcept { return errno; }
[[gnu::noinline, gnu::noipa]] void set_errno(int value) noexcept { errno = value; }

}  // namespace goro::rt::os
