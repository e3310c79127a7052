// runtime/time/sleep.cpp — goro::sleep_for / sleep_until.
//
// A sleeping goroutine is one timer entry on its own stack, armed in its P's heap, plus a park.
// The entry is armed by park's "after" action, once the goroutine is off its stack
// (sched/park.hpp), so the timer cannot fire — and ready it — any earlier. Sleeping allocates
// nothing and touches nothing beyond the goroutine's stack and its P's heap.
#include <goro/time.hpp>

#include "os/clock.hpp"
#include "sched/park.hpp"
#include "sched/sched.hpp"
#include "sched/wait.hpp"
#include "time/timers.hpp"

#include <mutex>
#include <thread>

namespace goro {
namespace {

using namespace rt;

// Aligned so that firing it — reading `fire` and `g` — touches one cache line, which the heap
// prefetches.
struct alignas(64) Sleeper {
  TimerEntry timer;  // first: a TimerEntry* is a Sleeper*
  G* g;
  TimerHeap* heap;
};
static_assert(sizeof(TimerEntry) + sizeof(G*) <= 64, "firing a Sleeper reads one cache line");

void sleep_until_ns(std::int64_t when, std::int64_t now) {
  if (when <= now) {
    note_plain_thread();  // as a sleep that waits: the thread may wake a goroutine afterwards
    return;
  }
  if (!current_g()) {  // a plain thread, or inside blocking()
    note_plain_thread();  // a plain thread that sleeps may wake a goroutine afterwards
    std::this_thread::sleep_until(time_point(std::chrono::nanoseconds(when)));
    return;
  }
  RuntimeSection section;
  M* m = section.m();
  Sleeper s;
  s.g = m->curg;
  s.heap = m->p ? &m->p->timers : &sched.ps[0]->timers;  // no P: the monitor took it
  s.timer.when = when;
  s.timer.fire_only = true;
  s.timer.fire = [](TimerEntry* t, std::uint64_t, std::int64_t) {
    ready(reinterpret_cast<Sleeper*>(t)->g);
  };
  park_on(section, WaitReason::sleep, [](G*, void* arg) {
    auto* sleeper = static_cast<Sleeper*>(arg);
    const std::int64_t when = sleeper->timer.when;  // sleeper may vanish once armed
    TimerHeap* heap = sleeper->heap;
    {
      std::lock_guard lock(heap->lock);
      heap->add_locked(&sleeper->timer);
    }
    timer_armed(when);
    return true;
  }, &s);
}

}  // namespace

void sleep_for(std::chrono::nanoseconds d) {
  if (d <= std::chrono::nanoseconds::zero()) {
    note_plain_thread();  // as sleep_until_ns
    return;
  }
  const std::int64_t now = os::now_ns();  // one clock read for the deadline and the check
  sleep_until_ns(os::later(now, d.count()), now);
}

void sleep_until(time_point t) {
  const auto when = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch());
  sleep_until_ns(when.count(), os::now_ns());
}

}  // namespace goro
