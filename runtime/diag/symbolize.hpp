// runtime/diag/symbolize.hpp — "file:line in function" for a code address.
#pragma once

#include <string>

namespace goro::rt {

// Where the `go` call is whose spawn_commit call (go is inlined) returns to `return_address`:
// "file.cpp:42 in f()" when the program has debug info (-g), else "f()+0x1c" (the return
// address's offset in f), or else "/path/to/program+0x1a2b" (its offset in the executable or
// library, which addr2line resolves). Null: the main goroutine. Cached.
std::string spawn_site(const void* return_address);

}  // namespace goro::rt
