// runtime/chan/memory.cpp — see memory.hpp.
#include "chan/memory.hpp"

#include "os/sanitizers.hpp"

#include <new>

namespace goro::rt {
namespace {

constexpr std::size_t kBlockBytes = 128;
constexpr std::size_t kCachedBlocks = 1024;

bool fits_block(std::size_t bytes, std::size_t align) {
  return !GORO_ASAN && bytes <= kBlockBytes && align <= __STDCPP_DEFAULT_NEW_ALIGNMENT__;
}

struct BlockCache {
  void* blocks[kCachedBlocks];
  std::size_t n = 0;
};

// A thread's cache, made when it first drops a channel (8 KiB of pointers: not in every thread's
// TLS), and emptied when it exits.
struct ThreadCache {
  BlockCache* cache = nullptr;
  bool gone = false;  // the thread is exiting: channels dropped from here on use malloc

  ~ThreadCache() {
    gone = true;
    if (!cache) return;
    while (cache->n) ::operator delete(cache->blocks[--cache->n]);
    delete cache;
    cache = nullptr;
  }
};
thread_local ThreadCache thread_cache;

}  // namespace

void* chan_memory_get(std::size_t bytes, std::size_t align) {
  if (!fits_block(bytes, align)) return ::operator new(bytes, std::align_val_t(align));
  BlockCache* c = thread_cache.cache;
  if (c && c->n) return c->blocks[--c->n];
  return ::operator new(kBlockBytes);
}

void chan_memory_put(void* mem, std::size_t bytes, std::size_t align) noexcept {
  if (!fits_block(bytes, align)) return ::operator delete(mem, std::align_val_t(align));
  ThreadCache& t = thread_cache;
  if (!t.cache && !t.gone) t.cache = new (std::nothrow) BlockCache;
  if (t.cache && t.cache->n < kCachedBlocks) {
    t.cache->blocks[t.cache->n++] = mem;
    return;
  }
  ::operator delete(mem);
}

}  // namespace goro::rt
