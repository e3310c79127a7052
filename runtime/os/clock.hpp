// runtime/os/clock.hpp — the clocks the runtime reads.
#pragma once

#include <cstdint>
#include <ctime>
#include <limits>

namespace goro::rt::os {

// Monotonic nanoseconds, as std::chrono::steady_clock.
inline std::int64_t now_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// `d` (>= 0) nanoseconds after `t`, capped at the end of time: a huge duration means "never", not
// a wrap into the past (Go's when() caps the same way).
inline std::int64_t later(std::int64_t t, std::int64_t d) {
  constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  return d > kNever - t ? kNever : t + d;
}

// Monotonic nanoseconds at a few milliseconds' resolution, for a fraction of the cost: the vDSO
// reads it without touching the TSC. Good enough for "how long has this goroutine waited".
inline std::int64_t coarse_now_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace goro::rt::os
