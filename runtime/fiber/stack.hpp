// runtime/fiber/stack.hpp — goroutine stacks: reserved in slabs, guarded, cached and reused.
//
// One stack, addresses growing upwards:
//
//     [ guard: kGuardBytes, any access faults ][ usable stack ........ ][ Stack header ]
//                                              ^ lo                    ^ top (fiber starts here)
//
// Stacks are carved from large anonymous slabs reserved with MAP_NORESERVE: the kernel commits a
// page only when it is first touched, so a goroutine that never goes deep costs one 4 KiB page
// (the top one, which also holds the header). Guard pages are installed with
// MADV_GUARD_INSTALL (Linux 6.13+): a page-table marker that, unlike mprotect, does not split the
// slab's mapping — with mprotect every stack costs two of the 65530 mappings a process may have,
// which caps a runtime at ~32k live goroutines. On older kernels we fall back to mprotect.
//
// A stack is handed out only when its goroutine first runs (a spawned goroutine that has not run
// owns no stack) and comes back when the goroutine exits. Free stacks go first to a small per-P
// StackCache (no locking), then to the pool's warm lists. A warm stack keeps its suspended fiber
// and its touched pages: reusing it costs one switch, no setup, no page fault.
//
// The pool keeps a warm list per P, and a P takes back the stacks it gave before any other P's.
// A stack that moves from one P to another arrives cold: its top lines (the header, the frames
// its last goroutine wrote) sit modified in the other core's cache, and the new goroutine's first
// writes there miss. Fork-join work swings the number of live goroutines per P by far more than
// a cache holds, so with one shared list most batches crossed over: fib(27) at procs 2 moved
// ~40k stacks between its Ps that way. Another P's stacks are still taken before new ones are
// set up, so memory use is what one list gives.
//
// The warm lists are arrays of pointers, as GPool's: caches trade batches with them by memcpy
// under a spin lock, without touching the stacks' (often cold) headers. In fork-join work one P
// finishes the goroutines another P spawns, so batches move all the time; when the list was
// linked through the headers, each move walked 16 cold lines under a mutex that put the other
// worker to sleep (that cost fib(27) at procs 2 about a tenth of its time).
//
// Giving memory back is never done on the way: MADV_DONTNEED on a stack costs a TLB shootdown —
// an interrupt to every other core running this process, ~15 µs here — and a workload whose
// goroutine count swings (fork-join, bursts of connections) would pay it on every swing. The
// monitor calls trim() instead: warm stacks beyond kMaxWarmStacks that have stayed unused for a
// while, or all the excess once the runtime has stayed idle for a while, are released (the
// address range stays reserved; reusing one later costs page faults, no syscall). And once the
// runtime has stayed idle, it calls shrink(): the warm stacks it keeps give back the pages below
// their suspended fibers, which a goroutine that went deep left behind (a 1024 stacks kept
// could otherwise hold 1024 × 256 KiB).
#pragma once

#include "fiber/switch.hpp"
#include "os/spinlock.hpp"

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace goro::rt {

struct Stack : Fiber {
  char* lo = nullptr;  // lowest usable address; the guard lies just below
};

// Below every stack. A frame bigger than this can jump over it (compile with
// -fstack-clash-protection to make the compiler probe big frames).
inline constexpr std::size_t kGuardBytes = 64 * 1024;
inline constexpr std::size_t kDefaultStackBytes = 256 * 1024;
inline constexpr std::size_t kMinStackBytes = 16 * 1024;
inline constexpr std::size_t kMaxStackBytes = std::size_t{1} << 30;

class StackPool {
 public:
  // Whose warm list a give() fills and a take() empties first: a P's id, or kNoHome for a
  // goroutine that exits without a P.
  static constexpr unsigned kNoHome = ~0u;

  // `bytes`: the reservation per stack (header included), a multiple of the page size; `homes`:
  // the number of Ps.
  void start(std::size_t bytes, FiberEntry entry, unsigned homes);
  void stop();  // unmaps every slab; no stack may be in use by a running fiber
#if GORO_ASAN
  void keep_for_leak_checker();  // stop() will leave the slabs mapped, as LSan root regions
#endif

  // Moves up to `n` free stacks into `out`: warm ones, those `home` gave first and the most
  // recently given of each list first; else new ones. Returns how many.
  std::size_t take(unsigned home, Stack** out, std::size_t n);
  void give(unsigned home, Stack* const* in, std::size_t n);
  // Returns to the kernel the memory of warm stacks beyond `keep` (the monitor calls this).
  // Returns how many were released.
  std::size_t trim(std::size_t keep);
  // Returns to the kernel the pages of warm stacks below what their suspended fibers use (those
  // in the Ps' caches are not seen). Returns how many stacks had such pages.
  std::size_t shrink();
  std::size_t warm() {
    std::lock_guard lock(mu_);
    return nwarm_;
  }
  std::size_t cold() {  // free stacks whose memory went back to the kernel (for tests)
    std::lock_guard lock(mu_);
    return cold_.size();
  }

  std::size_t stack_bytes() const { return stack_bytes_; }
  std::size_t carved() {  // stacks ever set up in this run (for tests and stats)
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const Slab& s : slabs_) n += s.carved;
    return n;
  }

  // True if `addr` lies in the guard below `s` (a stack overflow).
  static bool in_guard(const Stack* s, const void* addr) {
    auto a = reinterpret_cast<std::uintptr_t>(addr), lo = reinterpret_cast<std::uintptr_t>(s->lo);
    return a < lo && a >= lo - kGuardBytes;
  }
  // True if a stack pointer `sp` is on `s` or in its guard: the stack whose overflow a fault in
  // its guard is. (The header, at the top, is `s` itself.)
  static bool holds_sp(const Stack* s, const void* sp) {
    return in_guard(s, sp) || (sp >= s->lo && sp < static_cast<const void*>(s));
  }

 private:
  struct Slab {
    char* base;
    std::size_t stacks;
    std::size_t carved;
  };

  void add_slab(std::unique_lock<os::SpinLock>& lock);  // reserves the next, bigger slab
  Stack* revive(char* region);  // sets up the header and fiber of a (fresh or cold) region
  char* region_of(const Stack* s) const { return s->lo - kGuardBytes; }
  std::size_t region_bytes() const { return kGuardBytes + stack_bytes_; }

  os::SpinLock mu_;  // held for memcpys and bookkeeping only: syscalls happen outside it
  std::mutex grow_mu_;  // held by add_slab, so that one P at a time reserves a slab
  std::size_t stack_bytes_ = 0;
  FiberEntry entry_ = nullptr;
  std::vector<Stack*>& warm_list(unsigned home) {
    return warm_[std::min<std::size_t>(home, warm_.size() - 1)];
  }

  std::vector<std::vector<Stack*>> warm_;  // per home, kNoHome's last; most recently given last
  std::size_t nwarm_ = 0;                  // in all of them
  std::vector<char*> cold_;
  std::vector<Slab> slabs_;
};

// A few free stacks kept by each P, used without locking.
class StackCache {
 public:
  static constexpr std::size_t kCapacity = 32;  // refills and flushes move half of it

  explicit StackCache(unsigned home) : home_(home) {}

  Stack* get(StackPool& pool) {
    if (n_ == 0) n_ = pool.take(home_, items_, kCapacity / 2);
    return items_[--n_];
  }
  void put(StackPool& pool, Stack* s) {
    if (n_ == kCapacity) {
      pool.give(home_, items_ + kCapacity / 2, kCapacity / 2);
      n_ = kCapacity / 2;
    }
    items_[n_++] = s;
  }
  void clear() { n_ = 0; }  // the pool is being torn down

 private:
  const unsigned home_;
  Stack* items_[kCapacity];
  std::size_t n_ = 0;
};

// Defined by the scheduler: true if `fault` lies in the guard below the stack of the goroutine
// running on the calling thread, and `sp` (the stack pointer at the fault; null if unknown) on
// that stack, with that goroutine's id and stack reservation. Must be async-signal-safe: the
// overflow handler calls it.
bool goroutine_overflowed(const void* fault, const void* sp, std::uint64_t& goid,
                          std::size_t& stack_bytes) noexcept;

// Installs the SIGSEGV handler (on an alternate signal stack) that turns a fault in a guard page
// into "goro: goroutine N overflowed its S KiB stack; ...". Idempotent.
void install_overflow_handler();
// Every worker thread needs its own alternate signal stack for that handler to run on.
class AltSignalStack {
 public:
  AltSignalStack();
  ~AltSignalStack();
  AltSignalStack(const AltSignalStack&) = delete;
  AltSignalStack& operator=(const AltSignalStack&) = delete;

 private:
  void* mem_ = nullptr;
  bool restore_ = false;
  stack_t old_{};  // what was installed before (restored on destruction)
};

}  // namespace goro::rt
