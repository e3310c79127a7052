// runtime/sched/config.cpp — Config fields win; zero means "ask the environment, then default".
#include "sched/config.hpp"

#include "fiber/stack.hpp"
#include "sched/topology.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace goro::rt {
namespace {

[[noreturn]] void bad_env(const char* name, std::string_view value, const char* expected) {
  throw std::invalid_argument(std::string("goro: ") + name + "=\"" + std::string(value) +
                              "\" is not valid: expected " + expected);
}

// Set and not empty: `GORO_PROCS=` (a script's unset variable) means the default, as an empty
// GOMAXPROCS does in Go.
std::optional<std::string_view> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string_view(v);
}

// Whole decimal number without sign or junk.
std::optional<unsigned long long> parse_number(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  unsigned long long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v;
}

// "262144", "256k", "256KiB", "1M", "1MiB", "1g" (binary units).
std::optional<unsigned long long> parse_size(std::string_view s) {
  std::size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  auto number = parse_number(s.substr(0, digits));
  if (!number) return std::nullopt;
  std::string unit(s.substr(digits));
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  unsigned shift = 0;
  if (unit.empty() || unit == "b") shift = 0;
  else if (unit == "k" || unit == "kb" || unit == "kib") shift = 10;
  else if (unit == "m" || unit == "mb" || unit == "mib") shift = 20;
  else if (unit == "g" || unit == "gb" || unit == "gib") shift = 30;
  else return std::nullopt;
  if (*number > (~0ull >> shift)) return std::nullopt;
  return *number << shift;
}

std::size_t round_to_pages(std::size_t bytes) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

}  // namespace

Settings resolve_settings(const Config& config) {
  Settings s;

  if (config.procs > kMaxProcs)
    throw std::invalid_argument("goro: Config::procs = " + std::to_string(config.procs) +
                                " is too large: at most " + std::to_string(kMaxProcs));
  if (config.procs) {
    s.procs = config.procs;
  } else if (auto v = env("GORO_PROCS")) {
    auto n = parse_number(*v);
    if (!n || *n < 1 || *n > kMaxProcs) bad_env("GORO_PROCS", *v, "a number of Ps from 1 to 1024");
    s.procs = static_cast<unsigned>(*n);
  } else {
    s.procs = std::min(Topology::get().allowed_pus(), kMaxProcs);  // as Go caps GOMAXPROCS
  }

  constexpr const char* kStackRange = "a size from 16KiB to 1GiB, like 262144, 512K or 1M";
  if (config.stack_size) {
    if (config.stack_size < kMinStackBytes || config.stack_size > kMaxStackBytes)
      throw std::invalid_argument("goro: Config::stack_size = " +
                                  std::to_string(config.stack_size) + " is not valid: expected " +
                                  kStackRange);
    s.stack_bytes = config.stack_size;
  } else if (auto v = env("GORO_STACK")) {
    auto n = parse_size(*v);
    if (!n || *n < kMinStackBytes || *n > kMaxStackBytes) bad_env("GORO_STACK", *v, kStackRange);
    s.stack_bytes = static_cast<std::size_t>(*n);
  } else {
    s.stack_bytes = kDefaultStackBytes;
  }
  s.stack_bytes = round_to_pages(s.stack_bytes);

  s.pin = config.pin;
  if (auto v = env("GORO_PIN")) {
    if (*v == "1" || *v == "true") s.pin = true;
    else if (!(*v == "0" || *v == "false")) bad_env("GORO_PIN", *v, "0 or 1");
  }

  s.detect_deadlock = config.detect_deadlock;

  if (auto v = env("GORO_SCHEDTRACE")) {
    auto n = parse_number(*v);
    if (!n || *n > 3'600'000)  // 0: off, as Go's schedtrace=0
      bad_env("GORO_SCHEDTRACE", *v, "an interval in milliseconds, like 1000 (0: off)");
    s.schedtrace_ms = static_cast<unsigned>(*n);
  }
  return s;
}

}  // namespace goro::rt
