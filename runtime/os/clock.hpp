// runtime/os/clock.hpp — the clocks the runtime reads.
#pragma once

#include <cstdint>
#include <ctime>

namespace goro::rt::os {

// Monotonic nanoseconds, as std::chrono::steady_clock.
inline std::int64_t now_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Monotonic nanoseconds at a few milliseconds' resolution, for a fraction of the cost: the vDSO
// reads it without touching the TSC. Good enough for "how long has this goroutine waited".
inline std::int64_t coarse_now_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace goro::rt::os
