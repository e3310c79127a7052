// runtime/time/timers.hpp — timers in the scheduler.
//
// Who runs expired timers:
//   * a busy P, its own, every kGlobalCheckTicks time slices (dispatch.hpp) — one clock read
//     per 61 slices, and only when it has timers;
//   * a worker looking for work runs its own P's, and while stealing, every P's (steal.cpp): so a
//     timer fires on time even when its own P is busy computing;
//   * the waiter: when a worker finds nothing to do and timers are pending anywhere, one worker —
//     at most one at a time — blocks in epoll_wait until the earliest deadline instead of
//     parking for good, then takes an idle P and runs what is due (net/netpoll.hpp). Arming a
//     timer earlier than the one it sleeps for interrupts it; arming one while there is no
//     waiter wakes an idle worker to become it (timer_armed), and so does a P handed off with
//     timers (handoffp).
#pragma once

#include "time/heap.hpp"

#include <cstdint>

namespace goro::rt {

struct M;
struct P;

// Arms t (its `when` set) on the calling goroutine's P, or on some P for a plain thread. False
// if no runtime runs. t must not be armed.
bool arm(TimerEntry* t);
// Disarms t; true if it was armed.
bool disarm(TimerEntry* t);
// After arming t at `when`: make sure someone will be awake for it.
void timer_armed(std::int64_t when);

// The earliest deadline over all Ps; 0 if no timer is armed.
std::int64_t earliest_timer();
// Whether an armed timer could still wake a goroutine, for deadlock detection: a sleeper, an
// after_func, a socket deadline, a Timer or Ticker that a goroutine is parked on — not a Timer
// or Ticker whose fire would only leave a value in a channel nobody waits on. Go 1.23 keeps
// such timers out of its heaps altogether, so its checkdead does not count them either.
bool timers_can_wake();
// Runs what is due on p's heap (or on every P's, with `all`). Returns how many fired.
int run_timers(P* p, bool all);


}  // namespace goro::rt
