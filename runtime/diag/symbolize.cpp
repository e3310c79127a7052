// runtime/diag/symbolize.cpp — Boost.Stacktrace with the libbacktrace backend (in-process, reads
// DWARF line tables; no addr2line child process).
#include "diag/symbolize.hpp"

#define BOOST_STACKTRACE_LINK
#include <boost/stacktrace/frame.hpp>

#include <cstdio>
#include <mutex>
#include <unordered_map>

namespace goro::rt {

std::string spawn_site(const void* return_address) {
  if (!return_address) return "goro::run (the main goroutine)";
  static std::mutex mu;
  static std::unordered_map<const void*, std::string> cache;
  std::lock_guard lock(mu);
  auto [it, fresh] = cache.try_emplace(return_address);
  if (!fresh) return it->second;

  // The call instruction ends just before the return address.
  boost::stacktrace::frame frame(static_cast<const char*>(return_address) - 1);
  const std::string file = frame.source_file();
  const std::string function = frame.name();
  std::string site;
  if (!file.empty()) {
    site = file + ":" + std::to_string(frame.source_line());
    if (!function.empty()) site += " in " + function;
  } else if (!function.empty()) {
    site = function;
  } else {
    char hex[32];
    std::snprintf(hex, sizeof hex, "%p", return_address);
    site = hex;
  }
  it->second = site;
  return site;
}

}  // namespace goro::rt
