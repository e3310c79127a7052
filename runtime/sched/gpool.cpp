// runtime/sched/gpool.cpp
#include "sched/gpool.hpp"

#if GORO_ASAN
#include <sanitizer/lsan_interface.h>
#endif

namespace goro::rt {

G* GPool::take(std::size_t n, std::size_t& got) {
  std::lock_guard lock(mu_);
  if (nfree_ < n) {
    slabs_.push_back(std::make_unique<G[]>(kSlabGs));
    G* slab = slabs_.back().get();
    for (std::size_t i = 0; i < kSlabGs; ++i) {
      slab[i].link = free_;
      free_ = &slab[i];
    }
    nfree_ += kSlabGs;
  }
  G* head = free_;
  G* tail = head;
  for (std::size_t i = 1; i < n; ++i) tail = tail->link;
  free_ = tail->link;
  tail->link = nullptr;
  nfree_ -= n;
  got = n;
  return head;
}

void GPool::give(G* head, G* tail, std::size_t n) {
  std::lock_guard lock(mu_);
  tail->link = free_;
  free_ = head;
  nfree_ += n;
}

void GPool::stop() {
  std::lock_guard lock(mu_);
  slabs_.clear();
  free_ = nullptr;
  nfree_ = 0;
}

#if GORO_ASAN
void GPool::keep_for_leak_checker() {
  std::lock_guard lock(mu_);
  for (auto& slab : slabs_) __lsan_ignore_object(slab.release());  // ignored, but still scanned
}
#endif

}  // namespace goro::rt
