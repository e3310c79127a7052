// runtime/sched/gpool.cpp
#include "sched/gpool.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#if GORO_ASAN
#include <sanitizer/lsan_interface.h>
#endif

namespace goro::rt {

namespace {

// kSlabBytes of zeroed memory aligned to kSlabBytes, so that it can be one huge page.
G* map_slab() {
  constexpr std::size_t size = GPool::kSlabBytes;
  void* raw = ::mmap(nullptr, 2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    std::fprintf(stderr, "goro: cannot allocate goroutine records: %s\n", std::strerror(errno));
    std::abort();
  }
  auto begin = reinterpret_cast<std::uintptr_t>(raw);
  auto aligned = (begin + size - 1) / size * size;
  if (aligned > begin) ::munmap(raw, aligned - begin);
  ::munmap(reinterpret_cast<void*>(aligned + size), begin + size - aligned);
  ::madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
  return reinterpret_cast<G*>(aligned);
}

}  // namespace

void GPool::take(G** out, std::size_t n) {
  std::unique_lock lock(mu_);
  while (free_.size() < n) {
    // Map and fault in a new slab (a 2 MiB page: hundreds of µs) without holding the lock that
    // every P's give() needs.
    lock.unlock();
    G* slab = map_slab();
    for (std::size_t i = 0; i < kSlabGs; ++i) ::new (&slab[i]) G;
    lock.lock();
    slabs_.push_back(slab);
    free_.reserve(free_.size() + kSlabGs);
    for (std::size_t i = kSlabGs; i-- > 0;) free_.push_back(&slab[i]);
  }
  const std::size_t from = free_.size() - n;
  for (std::size_t i = 0; i < n; ++i) out[i] = free_[from + i];
  free_.resize(from);
}

void GPool::give(G* const* gs, std::size_t n) {
  std::lock_guard lock(mu_);
  free_.insert(free_.end(), gs, gs + n);
}

void GPool::stop() {
  std::lock_guard lock(mu_);
  // Every G goes back to the free list, and the slabs stay mapped for the next run (Go never
  // frees a G either): a goro::Mutex keeps a pointer to its holder's G, to decide whether to
  // spin, and a Mutex may outlive the run its holder belonged to. That pointer must find a G
  // record, not unmapped memory. The memory itself goes back to the kernel; the zero pages left
  // in its place are free Gs (g.hpp).
  free_.clear();
  for (G* slab : slabs_) {
    ::madvise(slab, kSlabBytes, MADV_DONTNEED);
    for (std::size_t i = kSlabGs; i-- > 0;) free_.push_back(&slab[i]);
  }
}

#if GORO_ASAN
void GPool::keep_for_leak_checker() {
  std::lock_guard lock(mu_);
  for (G* slab : slabs_) __lsan_register_root_region(slab, kSlabBytes);
  slabs_.clear();  // deliberately never unmapped
}
#endif

}  // namespace goro::rt
