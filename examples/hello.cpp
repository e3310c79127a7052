// hello: goro in one screen — goroutines, a channel, a WaitGroup, range-for, select with a timeout.
#include <goro/goro.hpp>

#include <chrono>
#include <cstdio>
#include <optional>

using namespace std::chrono_literals;

int main() {
  return goro::run([] {
    // Fan in: a thousand goroutines send the square of their number on one channel.
    constexpr long n = 1000;
    goro::chan<long> squares(64);
    goro::WaitGroup wg;
    wg.add(n);
    for (long i = 1; i <= n; ++i)
      goro::go([i, squares, &wg] {
        squares.send(i * i);
        wg.done();
      });
    goro::go([&wg, squares] {  // close the channel once every sender is done
      wg.wait();
      squares.close();
    });
    long sum = 0;
    for (long v : squares) sum += v;  // receives until closed and drained
    std::printf("sum of the squares of 1..%ld, sent by %ld goroutines on %u Ps: %ld\n", n, n,
                goro::procs(), sum);

    // A timeout: nobody ever sends on `quiet`, so after() fires.
    goro::chan<int> quiet;
    goro::select(goro::on_recv(quiet, [](std::optional<int>) { std::puts("impossible"); }),
                 goro::on_recv(goro::after(50ms), [](auto) { std::puts("nothing on the channel for 50 ms: timed out"); }));
    return sum == n * (n + 1) * (2 * n + 1) / 6 ? 0 : 1;
  });
}
