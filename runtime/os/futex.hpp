// runtime/os/futex.hpp — the Linux futex, the only way a goro thread ever sleeps.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <ctime>

namespace goro::rt::os {

// Sleeps while `word` still holds `expected`; returns early on a wake, a signal or `timeout`
// (relative; null = none). Callers re-check their condition: spurious returns are possible.
inline void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       const timespec* timeout = nullptr) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected,
            timeout, nullptr, 0);
}

inline void futex_wake(std::atomic<std::uint32_t>& word, int count) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, count,
            nullptr, nullptr, 0);
}

}  // namespace goro::rt::os
