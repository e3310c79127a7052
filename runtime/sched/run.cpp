// runtime/sched/run.cpp — goro::run(): start a runtime, run main, stop, clean up.
//
// Start: resolve the settings, make the Ps (all idle but P0), queue main as goroutine 1 on P0,
// and turn the calling thread into worker M0. Other workers start on demand (idle.cpp).
//
// Stop, in order — each step is safe because of the one before:
//   1. main returns (or a goroutine lets an exception escape, or deadlock is detected):
//      begin_stop() sets `stopping` and wakes every parked worker.
//   2. Every worker leaves its loop at its next scheduling point: next_local() and
//      find_runnable() return nothing once `stopping` is set, and parked workers wake to no P.
//      A goroutine that never reaches a scheduling point (a loop without goro calls) or sits in
//      blocking() keeps its worker — run() cannot return before that worker does.
//   3. M0 joins the other workers; plain threads still inside a goro call finish it (they see
//      `stopping` and start nothing new); the monitor stops.
//   4. Nothing runs any more: goroutines that never started have their functions destroyed,
//      started ones are abandoned where they are (as when a Go program's main returns), their
//      calls into primitives that may outlive the run are settled (settle.hpp), and all stacks
//      and G records are released.
//   5. run() rethrows the first failure, or returns main's result.
#include "sched/monitor.hpp"
#include "sched/sched.hpp"
#include "sched/settle.hpp"

#include "net/netpoll.hpp"
#include "net/poller.hpp"
#include "os/clock.hpp"
#include "time/timers.hpp"

#include <goro/runtime.hpp>

#include <sched.h>

#include <stdexcept>
#include <thread>

#if GORO_ASAN
#include <sanitizer/lsan_interface.h>
#endif

namespace goro::rt {

os::NeverDestroyed<Sched> sched_storage;

namespace {

void start(const Settings& settings) {
  sched.settings = settings;
  sched.nprocs = settings.procs;
  sched.globalq = std::make_unique<GlobalQueue>();
  for (unsigned i = 0; i < sched.nprocs; ++i)
    sched.ps.push_back(std::make_unique<P>(i));
  build_victims();
  sched.stacks.start(settings.stack_bytes, &goroutine_main, sched.nprocs);
  poller.start();
  install_overflow_handler();

  sched.stopping.store(false);
  sched.main_returned.store(false);
  sched.monitor_backed_off.store(false);
  sched.monitor_sleeps_long.store(false);
  sched.deadlock_suspected.store(false);  // a run that stopped during a suspicion left it set
  sched.failure = nullptr;
  sched.npidle.store(0);
  sched.nmspinning.store(0);
  sched.nblocking.store(0);
  sched.nunowned.store(0);
  // Not external_ops: a plain thread may be between its increment and decrement right now (it
  // fails to enter while no runtime runs); a reset would leave it -1 for good, and the next stop
  // would wait for 0 for ever.
  sched.external_threads.store(0);
  sched.external_spawned.store(0);
  sched.external_exited.store(0);
  sched.retakes.store(0);
  sched.preempt_handoffs.store(0);
  sched.parks.store(0);
  sched.unparks.store(0);
  sched.handoffs.store(0);
  sched.next_goid.store(2);  // 1 is main
  sched.generation.fetch_add(1);
  sched.start_ns = os::now_ns();
  sched.coarse_now.store(os::coarse_now_ns());
  for (unsigned i = sched.nprocs; i-- > 1;) pidleput(sched.ps[i].get());
}

G* make_main(void (*body)(void*), void* arg) {
  G* g = new_g(nullptr);
  detail::emplace_call(g->task, [body, arg] { body(arg); });
  g->id.store(1, std::memory_order_relaxed);
  g->spawn_pc.store(nullptr, std::memory_order_relaxed);
  g->set_state(GStatus::runnable);
  sched.external_spawned.store(1);
  return g;
}

// Step 4: nothing runs any more.
void teardown() {
  [[maybe_unused]] const bool abandoned = settle_abandoned();
#if GORO_ASAN
  // Abandoned goroutines still hold what their stacks and closures point to. Go's process would
  // simply exit; here the program goes on, and LeakSanitizer would call that memory leaked.
  // Keep their memory and show it to the leak checker as reachable.
  if (abandoned) {
    sched.gpool.keep_for_leak_checker();
    sched.stacks.keep_for_leak_checker();
  }
#endif
  for (auto& p : sched.ps) {
    p->timers.discard();  // releases goro::Timer states; sleepers' entries die with their stacks
    p->stacks.clear();
    p->gfree.clear();
  }
  poller.stop();  // sockets still open now fail cleanly: they check the run they belong to
  sched.stacks.stop();
  sched.gpool.stop();
  sched.ps.clear();
  sched.globalq.reset();
  sched.ms.clear();
  sched.pidle = nullptr;
  sched.midle = nullptr;
  sched.nmidle = 0;
  sched.main_g = nullptr;
  sched.monitor.reset();
}

}  // namespace

void begin_stop() {
  if (sched.stopping.exchange(true, std::memory_order_seq_cst)) return;
  wake_all_for_stop();
  interrupt_waiter();
  if (sched.monitor) sched.monitor->wake();
}

void fail(std::exception_ptr e) {
  {
    std::lock_guard lock(sched.failure_mu);
    if (!sched.failure) sched.failure = std::move(e);
  }
  begin_stop();
}

}  // namespace goro::rt

namespace goro::detail {

using namespace rt;

void run_main(const Config& config, void (*body)(void*), void* arg) {
  if (current_m())
    throw std::logic_error(
        "goro::run called inside a goroutine: a runtime is already running (run inside run)");
  static std::mutex one_runtime;
  std::unique_lock running(one_runtime, std::try_to_lock);
  if (!running.owns_lock())
    throw std::logic_error("goro::run: a runtime is already running on another thread; "
                           "only one runs at a time");

  start(resolve_settings(config));
  sched.main_g = make_main(body, arg);
  sched.ps[0]->runq.push(sched.main_g);

  // The calling thread becomes worker M0.
  M* m0;
  {
    std::lock_guard lock(sched.lock);
    sched.ms.push_back(std::make_unique<M>(0));
    m0 = sched.ms.back().get();
  }
  sched.monitor = std::make_unique<Monitor>();
  sched.running.store(true, std::memory_order_seq_cst);
  sched.monitor->start();
  cpu_set_t caller_affinity;  // pinning binds M0 = this thread; give it back as it was
  const bool restore_affinity =
      sched.settings.pin && sched_getaffinity(0, sizeof caller_affinity, &caller_affinity) == 0;
  {
    AltSignalStack alt_stack;
    set_current_m(m0);
    adopt_thread_fiber(&m0->g0);
    m0->eh = thread_eh_state();
    acquirep(m0, sched.ps[0].get());
    worker_loop(m0);
    set_current_m(nullptr);
  }
  if (restore_affinity) sched_setaffinity(0, sizeof caller_affinity, &caller_affinity);

  // Step 3.
  begin_stop();
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(sched.lock);
    for (auto& m : sched.ms)
      if (m->thread.joinable()) workers.push_back(std::move(m->thread));
  }
  for (auto& t : workers) t.join();
  sched.monitor->stop();
  // `stopping` turns new external calls away; wait for those already inside.
  while (sched.external_ops.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
  sched.running.store(false, std::memory_order_seq_cst);

  teardown();
  if (std::exception_ptr failure = std::exchange(sched.failure, nullptr))
    std::rethrow_exception(failure);
}

}  // namespace goro::detail
