#include <goro/runtime.hpp>
#include <atomic>
#include <cstdio>
int main() {
  return goro::run([] {
    std::atomic<int> n{0};
    for (int i = 0; i < 1000; ++i) goro::go([&n] { n.fetch_add(1); });
    while (n.load() < 1000) goro::yield();
    std::printf("hello from %zu goroutines on %u Ps\n", goro::num_goroutines(), goro::procs());
    return 0;
  });
}
