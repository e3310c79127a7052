// runtime/sched/m.hpp — M: a worker thread.
//
// An M runs goroutines while it holds a P. Its own thread stack is its g0: the scheduler loop
// (find work, run it, repeat) runs there whenever no goroutine does. Ms are created on demand:
// one per P that has work, plus one for each goroutine inside goro::blocking() whose P was
// handed on. An M with nothing to do parks on its Parker (idle.cpp).
#pragma once

#include "fiber/switch.hpp"
#include "os/parker.hpp"
#include "sched/g.hpp"

#include <thread>

namespace goro::rt {

struct P;

struct M {
  explicit M(unsigned index) : id(index) {}

  const unsigned id;
  Fiber g0;                 // this thread's own stack
  EhState* eh = nullptr;    // this thread's C++ exception state (fiber/switch.hpp)
  G* curg = nullptr;        // the goroutine running on this M, if any
  P* p = nullptr;           // the P held, if any
  P* nextp = nullptr;       // handed over by startm() to a parked M
  P* oldp = nullptr;        // the P held before entering blocking(); reacquired first
  bool spinning = false;    // looking for work (counted in Sched::nmspinning)
  int pinned_to = -1;       // the P whose home core this thread is bound to
  os::Parker parker;
  M* idle_link = nullptr;   // the idle M list (sched lock)
  std::thread thread;       // not joinable for the thread that called run()
};

// The M running on this thread, or null on a plain thread. Goroutines migrate between threads at
// every switch, so this must be re-read after anything that may switch: the function is opaque
// to the optimizer so it cannot reuse a thread-local address computed before the switch.
M* current_m();
void set_current_m(M* m);

}  // namespace goro::rt
