// runtime/sync/fatal.hpp — misuse that leaves no sane way to continue (Go's fatal/throw).
#pragma once

#include <cstdio>
#include <cstdlib>

namespace goro::rt {

// "goro: fatal error: <what>" on stderr, then abort. For corruption of a primitive's state
// found where no exception can be thrown (unlock is called from destructors).
[[noreturn]] inline void fatal(const char* what) {
  std::fprintf(stderr, "goro: fatal error: %s\n", what);
  std::abort();
}

}  // namespace goro::rt
