// runtime/os/parker.hpp — put one thread to sleep until another wakes it.
//
// A binary semaphore owned by one thread: park() sleeps until unpark(); an unpark that comes
// first is remembered, so the pair never loses a wake-up. unpark() makes a futex syscall only
// when the owner is really asleep: waking a sleeping thread costs tens of microseconds on this
// kind of VM, so the common "not asleep yet" case must stay a single atomic exchange.
#pragma once

#include "os/futex.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>

namespace goro::rt::os {

class Parker {
 public:
  void park() {
    while (!try_consume()) futex_wait(state_, kSleeping);
  }

  // Like park(), but gives up after `timeout`. True if woken by unpark().
  bool park_for(std::chrono::nanoseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!try_consume()) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::nanoseconds::zero()) {
        std::uint32_t expected = kSleeping;
        if (state_.compare_exchange_strong(expected, kEmpty, std::memory_order_acquire)) return false;
        continue;  // an unpark raced with the timeout: consume it
      }
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
      futex_wait(state_, kSleeping, &ts);
    }
    return true;
  }

  void unpark() {
    if (state_.exchange(kNotified, std::memory_order_release) == kSleeping) futex_wake(state_, 1);
  }

 private:
  static constexpr std::uint32_t kEmpty = 0, kNotified = 1, kSleeping = 2;

  // Takes a pending notification, or announces that the owner is going to sleep.
  bool try_consume() {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      if (s == kNotified) {
        if (state_.compare_exchange_weak(s, kEmpty, std::memory_order_acquire)) return true;
      } else if (s == kEmpty) {
        if (state_.compare_exchange_weak(s, kSleeping, std::memory_order_relaxed)) return false;
      } else {
        return false;  // kSleeping: keep sleeping
      }
    }
  }

  std::atomic<std::uint32_t> state_{kEmpty};
};

}  // namespace goro::rt::os
