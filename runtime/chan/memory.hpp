// runtime/chan/memory.hpp — where channels live: small ones in blocks cached per thread.
//
// Fork-join code makes a channel per task and drops it when the task is joined: fib(27) makes
// 318k channels in ~40 ms, most dropped on the thread that made them, and the number alive
// swings by thousands. glibc's malloc keeps only 7 free chunks per size per thread; past them
// every malloc and free goes through the arena (_int_malloc and _int_free: ~6% of fib's time). So
// a channel whose header and buffer fit in a block (128 bytes at malloc's alignment: every
// unbuffered channel of an element no more aligned than that, and buffered ones of an empty type;
// a buffer of elements is 64-byte aligned, see chan.cpp, and never takes a block) takes a block
// from a cache of free ones kept by its thread, up to 1024 blocks (128 KiB); a block beyond them
// goes back to malloc, and so do a thread's cached blocks when it exits. Other channels use
// malloc directly. (With 256 blocks the cache overflowed on every swing and gained half as much.)
//
// Per thread rather than per P: channels are made and dropped by plain threads too, and can
// outlive the runtime. Under AddressSanitizer every channel uses malloc, so that a use after
// the last handle is gone is caught.
#pragma once

#include <cstddef>

namespace goro::rt {

void* chan_memory_get(std::size_t bytes, std::size_t align);
void chan_memory_put(void* mem, std::size_t bytes, std::size_t align) noexcept;

}  // namespace goro::rt
