// runtime/sched/config.hpp — goro::Config plus the GORO_* environment, checked and resolved.
#pragma once

#include <goro/runtime.hpp>

#include <cstddef>

namespace goro::rt {

inline constexpr unsigned kMaxProcs = 1024;

struct Settings {
  unsigned procs = 1;
  std::size_t stack_bytes = 0;  // per goroutine, a multiple of the page size
  bool pin = false;
  bool detect_deadlock = true;
  unsigned schedtrace_ms = 0;   // GORO_SCHEDTRACE; 0 = off
};

// Throws std::invalid_argument naming the field or variable and the bad value.
Settings resolve_settings(const Config& config);

}  // namespace goro::rt
