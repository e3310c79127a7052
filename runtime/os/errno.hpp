// runtime/os/errno.hpp — errno, read and written afresh across goroutine switches.
//
// glibc declares __errno_location() const, so within one function the compiler may compute
// errno's address once and reuse it after a goroutine switch — on another thread by then. Code
// that switches and then touches errno goes through these opaque calls, which compute the
// address on the thread they run on. (net.cpp reads errno only through errno_now(): its calls may
// wait, and so switch, between their syscalls.)
#pragma once

namespace goro::rt::os {

int errno_now() noexcept;
void set_errno(int value) noexcept;

}  // namespace goro::rt::os
