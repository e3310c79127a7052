// runtime/chan/memory.hpp — where channels live: small ones in blocks cached per thread.
//
// Fork-join code makes a channel per task and drops it when the task is joined: fib(27) makes
// 318k channels in ~40 ms, most dropped on the thread that made them, and the number alive
// swings by thousands. glibc's malloc keeps only 7 free chunks per size per thread; past them
// every malloc and free goes through the arena (_int_malloc and _int_free: ~6% of fib's time). So
// a channel whose header and buffer fit in a block (128 bytes at malloc's alignment: every
// unbuffered channel of an element no more aligned than that, and buffered ones of an empty type
// or of a few small elements, such as fork-join's capacity-1 result channels) takes a block from
// a cache of free ones kept by its thread, up to 1024 blocks (128 KiB); a block beyond them
// goes back to malloc, and so do a thread's cached blocks when it exits. (With 256 blocks the
// cache overflowed on every swing and gained half as much.)
//
// Other channels use malloc directly, none aligned to cache lines. 0cb842e gave buffered ones
// lines of their own (a header written by every core using it, off lines shared with
// neighbours): chan_mpmc measured 34 -> 31 ns per message on that day's host. On the next (an
// AMD EPYC), in 7-9 interleaved runs each, chan_mpmc measured 34 ns plain and 52 line-aligned (55
// at 128 bytes, 52 with every hot field in one line), so where the allocations around a channel
// land decides more than its own alignment. And glibc's aligned allocation is its slow path
// (_mid_memalign splits a chunk and frees the rest): when fib's result channels took it, fib(27)
// ran twice the instructions.
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
