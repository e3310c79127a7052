// runtime/os/membarrier.hpp — asymmetric fences, for handshakes whose one side is hot.
//
// Dekker's handshake (each side stores its flag, then loads the other's) needs a StoreLoad fence
// on both sides: on x86 a locked instruction, ~20 cycles, paid on every pass. When one side runs
// all the time (a worker switching goroutines) and the other rarely (a thief, the monitor), the
// hot side can make do with a compiler barrier if the rare side calls heavy_fence():
// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) makes every running thread of the process execute
// a full barrier before it returns (an interrupt to each core running one; a descheduled thread
// has passed one in its context switch). So either the rare side sees the hot side's flag, or the
// hot side's next load comes after that barrier and sees the rare side's.
#pragma once

namespace goro::rt::os {

// Whether heavy_fence() works here (Linux 4.14+, and not filtered by seccomp). Registers the
// process for it on the first call; cheap afterwards.
bool heavy_fences_available();

// Every thread of the process executes a full memory barrier before this returns. Only after
// heavy_fences_available() returned true.
void heavy_fence();

}  // namespace goro::rt::os
