// runtime/diag/symbolize.cpp — code address to source line, in process, with GCC's libbacktrace
// (it reads the DWARF line tables of the program and its shared libraries; no addr2line child).
//
// Not through Boost.Stacktrace, which wraps the same library: its frame reports the outermost of
// the functions inlined at an address. A `go` call usually sits in a lambda that the optimizer
// inlined into its caller (goroutine 1's body inlined into goro::run), and the outermost frame
// then names goro's header instead of the user's line. libbacktrace reports the inlined frames
// innermost first: go() itself (always inlined, goro/runtime.hpp), which is skipped, then the
// function with the `go` call.
#include "diag/symbolize.hpp"

#include <backtrace.h>
#include <dlfcn.h>
#include <link.h>
#include <cxxabi.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace goro::rt {
namespace {

struct Site {
  std::string file, function;
  int line = 0;
  std::uintptr_t offset = 0;  // into `function`, when only the symbol table named it
};

void ignore_error(void*, const char*, int) {}  // no debug info: the caller falls back

backtrace_state* state() {
  static backtrace_state* s = backtrace_create_state(nullptr, /*threaded=*/1, ignore_error, nullptr);
  return s;
}

std::string demangle(const char* name) {
  int status = 0;
  char* plain = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string s = status == 0 && plain ? plain : name;
  std::free(plain);
  return s;
}

bool in_go(const char* file) {  // goro/runtime.hpp, not some mygoro/runtime.hpp
  constexpr std::string_view header = "goro/runtime.hpp";
  if (!file) return false;
  const std::string_view f(file);
  return f.ends_with(header) && (f.size() == header.size() || f[f.size() - header.size() - 1] == '/');
}

int innermost_frame(void* data, std::uintptr_t, const char* file, int line, const char* function) {
  auto& site = *static_cast<Site*>(data);
  if (file) {
    site.file = file;
    site.line = line;
  }
  if (function) site.function = demangle(function);
  return in_go(file) ? 0 : 1;  // stop at the first frame outside go(): the one that called it
}

void symbol(void* data, std::uintptr_t pc, const char* name, std::uintptr_t start, std::uintptr_t) {
  if (!name) return;
  auto& site = *static_cast<Site*>(data);
  site.function = demangle(name);
  site.offset = pc + 1 - start;  // of the return address, as a disassembler shows it
}

std::string plus_hex(std::uintptr_t offset) {
  char text[32];
  std::snprintf(text, sizeof text, "+0x%zx", static_cast<std::size_t>(offset));
  return text;
}

// "/path/to/program+0x1a2b": an address that stays meaningful with address randomization. The
// offset is from the module's load bias (link_map's l_addr), not its first byte, so that it is
// the address addr2line expects: the same for a PIE or a library, the absolute one otherwise.
std::string module_offset(const void* address) {
  Dl_info info;
  link_map* module = nullptr;
  if (::dladdr1(address, &info, reinterpret_cast<void**>(&module), RTLD_DL_LINKMAP) &&
      info.dli_fname && module)
    return info.dli_fname + plus_hex(reinterpret_cast<std::uintptr_t>(address) - module->l_addr);
  char text[32];
  std::snprintf(text, sizeof text, "%p", address);
  return text;
}

}  // namespace

std::string spawn_site(const void* return_address) {
  if (!return_address) return "goro::run (the main goroutine)";
  static std::mutex mu;
  static std::unordered_map<const void*, std::string> cache;
  std::lock_guard lock(mu);
  auto [it, fresh] = cache.try_emplace(return_address);
  if (!fresh) return it->second;

  // The call instruction ends just before the return address.
  const auto pc = reinterpret_cast<std::uintptr_t>(return_address) - 1;
  Site site;
  if (backtrace_state* s = state()) {
    backtrace_pcinfo(s, pc, innermost_frame, ignore_error, &site);
    if (site.file.empty()) backtrace_syminfo(s, pc, symbol, ignore_error, &site);  // + offset
  }
  std::string text;
  if (!site.file.empty()) {
    text = site.file + ":" + std::to_string(site.line);
    if (!site.function.empty()) text += " in " + site.function;
  } else if (!site.function.empty()) {
    text = site.function + plus_hex(site.offset);
  } else {
    text = module_offset(return_address);
  }
  it->second = text;
  return text;
}

}  // namespace goro::rt
