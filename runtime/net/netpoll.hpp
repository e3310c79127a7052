// runtime/net/netpoll.hpp — the scheduler's side of the poller: who waits for I/O and timers.
//
// A worker that finds nothing to run (schedule.cpp) first polls the network without blocking.
// If still nothing, and there is something to wait for — a party parked on a socket, or an
// armed timer — one worker at most becomes the "waiter": it holds no P, blocks in epoll_wait
// with the earliest timer as its timeout, and when woken takes an idle P and runs what became
// ready. Anyone who adds an earlier deadline (timer_armed) or must stop the runtime interrupts
// it through the poller's eventfd. Every other idle worker parks on its own futex.
#pragma once

#include <cstdint>

namespace goro::rt {

struct M;

// Whether anyone is parked on a socket (so that poll_network may find something).
bool network_waiters();

// Non-blocking poll from a worker holding a P: readies what epoll reports onto that P. Returns
// how many goroutines were readied. Cheap no-op when nobody waits on a socket.
int poll_network();

// As poll_network, unless someone polled in the last kLazyPollNs: for yield(), whose loops would
// otherwise make an epoll_pwait2 call of every pass (~150 ns) once anyone waits on a socket.
int poll_network_lazily();

// The same from a thread holding no P (the monitor): readied goroutines go to the global queue.
int poll_network_unowned();

// find_runnable's last step before parking m for good (see above). True if m waited and now
// holds a P again; false if m should park normally.
bool wait_for_events(M* m);

// An event source with deadline `when` appeared (a timer was armed): make sure someone will be
// awake for it.
void deadline_added(std::int64_t when);

// A plain thread is about to sleep on a socket (its count is in poller.waiters()): make sure a
// worker will poll for it — wake one if nobody waits in epoll_wait. A goroutine needs nothing:
// its worker, left without work, polls itself. But a plain thread may begin to wait after every
// worker has parked (all goroutines asleep on channels, no timer armed), and nothing else would
// then look at the network again.
void plain_thread_waits();

// The runtime stops: wake the waiter.
void interrupt_waiter();

}  // namespace goro::rt
