// runtime/diag/symbolize.hpp — "file:line in function" for a code address.
#pragma once

#include <string>

namespace goro::rt {

// Where the `go` call is whose spawn_commit call (go is inlined) returns to `return_address`:
// "file.cpp:42 in f()" when the program has debug info (-g), else "f()+0x1c" or the bare
// address. Null: the main goroutine. Cached.
std::string spawn_site(const void* return_address);

}  // namespace goro::rt
