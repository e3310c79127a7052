// runtime/sched/park.hpp — the parking protocol: how anything that blocks a goroutine works.
//
// To wait for an event, a goroutine
//   1. locks whatever structure the event will come through (a channel, a mutex's queue, ...),
//   2. enqueues itself there (its G, and where the waker should put the result),
//   3. calls park(reason, unlock, arg).
// park() switches away; once the goroutine is completely off its stack, `unlock(g, arg)` runs
// on the next goroutine's stack (fiber/switch.hpp) and releases the lock. Only then can a waker
// find the goroutine, so a waker on another core can never resume a goroutine that is still
// running. If `unlock` returns false the wait is cancelled and the goroutine is made runnable
// at once (Go's gopark unlockf contract).
//
// A waker, holding the same lock, dequeues the goroutine, hands it the result and calls
// ready(g). ready() puts it in the waker's runnext: it runs next on the waker's core, with the
// data it was just handed still in cache. From a plain thread, or a worker without a P, it goes
// to the global queue.
#pragma once

#include "fiber/switch.hpp"
#include "sched/g.hpp"
#include "sched/m.hpp"

namespace goro::rt {

using UnlockFn = bool (*)(G* g, void* arg);

void park(WaitReason reason, UnlockFn unlock, void* arg);
void ready(G* g);

// The same, for callers already inside a RuntimeSection (m.hpp) — the common case on hot paths
// (a channel operation takes one section for all of it). park_on leaves `section` on the M the
// goroutine resumes on. ready_on's `m` is the caller's M (section.m()), null on a plain thread.
void park_on(RuntimeSection& section, WaitReason reason, UnlockFn unlock, void* arg);
void ready_on(M* m, G* g);

// The goroutine running on M m, or null for a plain thread (m null) or inside blocking(), where
// the thread behaves as a plain one.
inline G* goroutine_of(const M* m) {
  return m && m->curg && m->curg->state() != GStatus::blocking ? m->curg : nullptr;
}
// Readies several parked goroutines at once: onto the caller's P, or, from a worker without a P
// (the network poller), into the global queue with one wake-up.
void ready_batch(G* const* gs, int n);

// The goroutine running on this thread, or null on a plain thread (and inside blocking(), where
// the thread behaves as a plain one).
G* current_g();

// park/yield/exit of a goroutine whose P was taken by the monitor: switch to g0 with `after`.
void leave_without_p(M* m, G* self, AfterSwitch after, void* arg);

}  // namespace goro::rt
