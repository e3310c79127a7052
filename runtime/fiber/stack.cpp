// runtime/fiber/stack.cpp — see stack.hpp for the layout and the caching policy.
#include "fiber/stack.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#if GORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102  // Linux 6.13; glibc headers may predate it
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif

namespace goro::rt {
namespace {

// Slabs start small (a runtime with a handful of goroutines reserves little) and double.
constexpr std::size_t kFirstSlabStacks = 16;
constexpr std::size_t kMaxSlabStacks = 4096;
constexpr std::size_t kHeaderBytes = (sizeof(Stack) + 63) / 64 * 64;

[[noreturn]] void fatal(const char* what) {
  std::fprintf(stderr, "goro: %s: %s\n", what, std::strerror(errno));
  std::abort();
}

enum class GuardMode { markers, mprotect, none };
std::atomic<GuardMode> guard_mode{GuardMode::markers};

void install_guard(char* guard) {
  if (guard_mode.load(std::memory_order_relaxed) == GuardMode::markers) {
    if (::madvise(guard, kGuardBytes, MADV_GUARD_INSTALL) == 0) return;
    guard_mode.store(GuardMode::mprotect, std::memory_order_relaxed);  // kernel before 6.13
  }
  if (guard_mode.load(std::memory_order_relaxed) == GuardMode::mprotect) {
    if (::mprotect(guard, kGuardBytes, PROT_NONE) == 0) return;
    if (guard_mode.exchange(GuardMode::none) != GuardMode::none)
      std::fprintf(stderr,
                   "goro: warning: out of memory mappings for stack guard pages (%s); further "
                   "goroutine stacks have no guard. Raise vm.max_map_count or use Linux 6.13+.\n",
                   std::strerror(errno));
  }
}

// process_madvise() on PIDFD_SELF (Linux 6.15+) applies an advice to many ranges of our own
// memory in one syscall. Once a kernel refuses, one call per range from then on.
constexpr int kPidfdSelf = -10000;
std::atomic<bool> batch_guards{true}, batch_populate{true};

bool advise_all(iovec* ranges, std::size_t n, int advice, std::atomic<bool>& works) {
  if (n == 0) return true;
  if (!works.load(std::memory_order_relaxed)) return false;
  std::size_t total = 0;
  for (std::size_t i = 0; i < n; ++i) total += ranges[i].iov_len;
  if (::syscall(SYS_process_madvise, kPidfdSelf, ranges, n, advice, 0) == static_cast<long>(total))
    return true;
  works.store(false, std::memory_order_relaxed);
  return false;
}

// What regions need before their first use: guard markers (for regions never used before; cold
// ones kept theirs) and the top page, which revive() writes at once. Batched, a madvise and a
// page-fault trap per stack become two syscalls per batch: ~1.2 of the ~4.5 µs a new stack
// costs here, in a burst of new goroutines the biggest single cost (see git log).
void prepare_regions(char* const* regions, const bool* guard_needed, std::size_t n,
                     std::size_t region_bytes) {
  static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  iovec guards[StackCache::kCapacity], tops[StackCache::kCapacity];
  std::size_t nguards = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (guard_needed[i]) guards[nguards++] = {regions[i], kGuardBytes};
    tops[i] = {regions[i] + region_bytes - page, page};
  }
  if (guard_mode.load(std::memory_order_relaxed) != GuardMode::markers ||
      !advise_all(guards, nguards, MADV_GUARD_INSTALL, batch_guards))
    for (std::size_t i = 0; i < nguards; ++i) install_guard(static_cast<char*>(guards[i].iov_base));
  advise_all(tops, n, MADV_POPULATE_WRITE, batch_populate);  // else revive() faults them in
}

}  // namespace

void StackPool::start(std::size_t bytes, FiberEntry entry, unsigned homes) {
  stack_bytes_ = bytes;
  entry_ = entry;
  warm_.assign(homes + 1, {});
}

void StackPool::stop() {
  for (const Slab& slab : slabs_) {
#if GORO_TSAN
    for (std::size_t i = 0; i < slab.carved; ++i) {
      char* region = slab.base + i * region_bytes();
      destroy_fiber(reinterpret_cast<Stack*>(region + region_bytes() - kHeaderBytes));
    }
#endif
#if GORO_ASAN
    ASAN_UNPOISON_MEMORY_REGION(slab.base, slab.stacks * region_bytes());
#endif
    ::munmap(slab.base, slab.stacks * region_bytes());
  }
  slabs_.clear();
  cold_.clear();
  warm_.clear();
  nwarm_ = 0;
}

std::size_t StackPool::take(unsigned home, Stack** out, std::size_t n) {
  // Decide under the lock which regions to hand out; set up new ones (syscalls, page faults)
  // after releasing it.
  n = std::min(n, StackCache::kCapacity);
  char* fresh[StackCache::kCapacity];
  bool guard_needed[StackCache::kCapacity];
  std::size_t nfresh = 0, got = 0;
  auto take_from = [&](std::vector<Stack*>& list) {
    const std::size_t k = std::min(n - got, list.size());
    std::copy(list.end() - static_cast<std::ptrdiff_t>(k), list.end(), out + got);
    list.resize(list.size() - k);
    got += k;
  };
  std::unique_lock lock(mu_);
  take_from(warm_list(home));
  for (std::size_t i = 0; i < warm_.size() && got < n; ++i) take_from(warm_[i]);
  nwarm_ -= got;
  while (got + nfresh < n) {
    if (!cold_.empty()) {
      fresh[nfresh] = cold_.back();
      guard_needed[nfresh++] = false;  // guard markers and mprotect both survive MADV_DONTNEED
      cold_.pop_back();
      continue;
    }
    if (slabs_.empty() || slabs_.back().carved == slabs_.back().stacks) {
      add_slab(lock);
      continue;
    }
    Slab& slab = slabs_.back();
    fresh[nfresh] = slab.base + slab.carved++ * region_bytes();
    guard_needed[nfresh++] = true;
  }
  lock.unlock();
  prepare_regions(fresh, guard_needed, nfresh, region_bytes());
  for (std::size_t i = 0; i < nfresh; ++i) out[got++] = revive(fresh[i]);
  return got;
}

void StackPool::add_slab(std::unique_lock<os::SpinLock>& lock) {
  // Ps that run out together wait for the first one's slab rather than each reserving one and
  // unmapping all but one: mmap, madvise and munmap take the address space's lock for writing,
  // stalling the other Ps' page faults and stack set-up (fib's cold run at procs 2: several a run).
  const std::size_t slabs_seen = slabs_.size();
  lock.unlock();  // the other Ps' give() and take() need the lock meanwhile
  std::lock_guard grow(grow_mu_);
  lock.lock();
  if (slabs_.size() != slabs_seen) return;  // another P added one meanwhile: carve from that
  std::size_t stacks =
      slabs_.empty() ? kFirstSlabStacks : std::min(slabs_.back().stacks * 2, kMaxSlabStacks);
  const std::size_t bytes = stacks * region_bytes();
  lock.unlock();
  void* base =
      ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) fatal("cannot reserve address space for goroutine stacks");
  ::madvise(base, bytes, MADV_NOHUGEPAGE);  // a huge page per stack: no
  lock.lock();
  slabs_.push_back(Slab{static_cast<char*>(base), stacks, 0});
}

void StackPool::give(unsigned home, Stack* const* in, std::size_t n) {
  std::lock_guard lock(mu_);
  std::vector<Stack*>& list = warm_list(home);
  list.insert(list.end(), in, in + n);
  nwarm_ += n;
}

std::size_t StackPool::trim(std::size_t keep) {
  // Collect the excess in batches (each a short hold of the spin lock that every P's take()
  // and give() need), then give the memory back in address order, one madvise per run of
  // adjacent regions rather than one per stack: after a burst most of the excess is adjacent,
  // and each madvise costs a syscall and a TLB shootdown (an interrupt to every other core
  // running this process). Guard markers survive MADV_DONTNEED, and mprotect'ed guards are
  // mappings of their own, so a run may cover the guards between its stacks.
  constexpr std::size_t kBatch = 256;
  std::vector<char*> regions;
  for (;;) {
    Stack* batch[kBatch];
    std::size_t n = 0;
    {
      std::lock_guard lock(mu_);
      if (nwarm_ <= keep) break;
      auto& longest = *std::max_element(warm_.begin(), warm_.end(),
                                        [](const auto& a, const auto& b) { return a.size() < b.size(); });
      n = std::min({kBatch, nwarm_ - keep, longest.size()});
      std::copy(longest.end() - static_cast<std::ptrdiff_t>(n), longest.end(), batch);
      longest.resize(longest.size() - n);
      nwarm_ -= n;
    }
    if (n == 0) break;
    for (std::size_t i = 0; i < n; ++i) {
      destroy_fiber(batch[i]);
#if GORO_ASAN
      ASAN_UNPOISON_MEMORY_REGION(batch[i]->lo, stack_bytes_);
#endif
      regions.push_back(region_of(batch[i]));
    }
  }
  std::sort(regions.begin(), regions.end());
  for (std::size_t i = 0; i < regions.size();) {
    std::size_t j = i + 1;
    while (j < regions.size() && regions[j] == regions[j - 1] + region_bytes()) ++j;
    char* lo = regions[i] + kGuardBytes;
    ::madvise(lo, static_cast<std::size_t>(regions[j - 1] + region_bytes() - lo), MADV_DONTNEED);
    i = j;
  }
  std::lock_guard lock(mu_);
  cold_.insert(cold_.end(), regions.begin(), regions.end());
  return regions.size();
}

std::size_t StackPool::shrink() {
  static const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in_core(stack_bytes_ / page);
  std::size_t shrunk = 0;
  // A list at a time, out of circulation meanwhile: a stack taken while its pages go would lose
  // what its new goroutine writes there. Syscalls happen outside the lock, as everywhere here.
  for (std::size_t home = 0;; ++home) {
    std::vector<Stack*> stacks;
    {
      std::lock_guard lock(mu_);
      if (home >= warm_.size()) break;
      stacks.swap(warm_[home]);
      nwarm_ -= stacks.size();
    }
    for (Stack* s : stacks) {
      if (!s->ctx) continue;
      // The suspended fiber's frames lie above its saved context; a page of slack below it.
      const auto live = (reinterpret_cast<std::uintptr_t>(s->ctx) / page - 1) * page;
      const auto lo = reinterpret_cast<std::uintptr_t>(s->lo);
      if (live <= lo) continue;
      auto* base = reinterpret_cast<void*>(lo);
      // Ask first: most kept stacks never went deep, and a madvise costs a TLB shootdown.
      if (::mincore(base, live - lo, in_core.data()) != 0) continue;
      const auto end = in_core.begin() + static_cast<std::ptrdiff_t>((live - lo) / page);
      if (std::none_of(in_core.begin(), end, [](unsigned char c) { return c & 1; })) continue;
      ::madvise(base, live - lo, MADV_DONTNEED);
      ++shrunk;
    }
    std::lock_guard lock(mu_);
    std::vector<Stack*>& list = warm_[home];
    list.insert(list.begin(), stacks.begin(), stacks.end());  // those given meanwhile are newer
    nwarm_ += stacks.size();
  }
  return shrunk;
}

#if GORO_ASAN
void StackPool::keep_for_leak_checker() {
  std::lock_guard lock(mu_);
  // Each stack's usable part only: reading a guard page would fault the leak checker itself.
  for (const Slab& slab : slabs_)
    for (std::size_t i = 0; i < slab.carved; ++i)
      __lsan_register_root_region(slab.base + i * region_bytes() + kGuardBytes, stack_bytes_);
  slabs_.clear();  // deliberately never unmapped
}
#endif

Stack* StackPool::revive(char* region) {
  char* top = region + region_bytes() - kHeaderBytes;
  auto* s = ::new (top) Stack{};
  s->lo = region + kGuardBytes;
  make_fiber(s, top, s->lo, entry_);
  return s;
}

}  // namespace goro::rt
