// Boost.Fiber peer of the goro benchmarks (workloads defined in /work/shared/BENCH.md).
//
// Usage: boostfiber_bench <workload> [--procs N] [--n N]
//   workloads: spawn skynet pingpong chan_mpmc yield fib mutex sleep idle_mem
//   (select and the echo/http servers are Go-only: exit status 3, no output).
// Scheduler: boost::fibers::algo::work_stealing on --procs threads (default
// std::thread::hardware_concurrency()), suspend=true so idle workers sleep. Fibers use Boost's
// default stack allocator (fixedsize_stack, default size) unless noted.
// Each run prints one "RESULT <workload> <metric>=<value> ..." line, checks its own result and
// exits 1 with a message on stderr when it is wrong. Only the work is timed (steady_clock).
//
// Standalone build:
//   g++ -O2 -std=c++20 -o boostfiber_bench bench.cpp -lboost_fiber -lboost_context -pthread
#include <boost/fiber/all.hpp>

#include <sys/resource.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace bf = boost::fibers;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Common helpers
// ---------------------------------------------------------------------------------------------

struct Options {
    unsigned procs = 0;
    long n = 100000;
};

[[noreturn]] void fail(const char* fmt, auto... args) {
    std::fprintf(stderr, "FAIL: ");
    std::fprintf(stderr, fmt, args...);
    std::fprintf(stderr, "\n");
    std::exit(1);
}

double ns_since(Clock::time_point start) {
    return std::chrono::duration<double, std::nano>(Clock::now() - start).count();
}

long peak_rss_kib() {  // getrusage ru_maxrss is in KiB on Linux
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

// Go's sync.WaitGroup: atomic counter, fiber mutex + condition variable for the waiter.
class WaitGroup {
public:
    void add(long k) { count_.fetch_add(k, std::memory_order_relaxed); }
    void done() {
        if (count_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            std::lock_guard lk(mtx_);
            cv_.notify_all();
        }
    }
    void wait() {
        std::unique_lock lk(mtx_);
        cv_.wait(lk, [this] { return count_.load(std::memory_order_acquire) == 0; });
    }

private:
    std::atomic<long> count_{0};
    bf::mutex mtx_;
    bf::condition_variable cv_;
};

// Installs work_stealing on the calling (main) thread and procs-1 helper threads; helpers run
// fibers until the Runtime is destroyed. With suspend=true an idle worker sleeps on a condition
// variable and is woken only when a fiber it owns is readied from another thread (new fibers
// do not wake it), so at procs>1 the helpers take part only when they find work to steal.
// (Boost 1.74's work_stealing constructor already waits for all procs threads; the explicit
// barrier keeps the no-steal-before-everyone-registered guarantee on older Boost versions.)
class Runtime {
public:
    explicit Runtime(unsigned procs) : procs_(procs), ready_(procs) {
        for (unsigned i = 1; i < procs_; ++i)
            helpers_.emplace_back([this] {
                bf::use_scheduling_algorithm<bf::algo::work_stealing>(procs_, true);
                ready_.arrive_and_wait();
                std::unique_lock lk(mtx_);
                cv_.wait(lk, [this] { return done_; });  // fiber wait: the thread keeps scheduling
            });
        bf::use_scheduling_algorithm<bf::algo::work_stealing>(procs_, true);
        ready_.arrive_and_wait();
    }
    ~Runtime() {
        {
            std::lock_guard lk(mtx_);
            done_ = true;
        }
        cv_.notify_all();
        for (auto& t : helpers_) t.join();
    }

private:
    unsigned procs_;
    std::barrier<> ready_;
    bf::mutex mtx_;
    bf::condition_variable cv_;
    bool done_ = false;
    std::vector<std::thread> helpers_;
};

template <typename F>
void go(F&& f) {
    bf::fiber(std::forward<F>(f)).detach();
}

// Boost's buffered_channel needs a power-of-two capacity >= 2 and holds capacity-1 values;
// every Go capacity c below maps to the smallest power of two >= c (minimum 2).
constexpr std::size_t chan_cap(std::size_t c) {
    std::size_t p = 2;
    while (p < c) p *= 2;
    return p;
}

// ---------------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------------

// spawn: 1,000,000 fibers that each only call WaitGroup::done; ns per fiber.
void bench_spawn(const Options&) {
    constexpr long n = 1000000;
    WaitGroup wg;
    auto start = Clock::now();
    wg.add(n);
    for (long i = 0; i < n; ++i) go([&wg] { wg.done(); });
    wg.wait();
    std::printf("RESULT spawn ns_per_op=%.3f\n", ns_since(start) / n);
}

// skynet: 1,000,000 leaves, 10-ary tree; each inner node makes a channel of capacity 10
// (16 here: 15 slots), spawns 10 children that send their sum, receives 10 values, sends the
// sum up. Result 499999500000; ms.
void skynet(bf::buffered_channel<long>& out, long num, long size, long div) {
    if (size == 1) {
        out.push(num);
        return;
    }
    bf::buffered_channel<long> rc(chan_cap(10));
    long sub = size / div;
    for (long i = 0; i < div; ++i) go([&rc, num, i, sub, div] { skynet(rc, num + i * sub, sub, div); });
    long sum = 0;
    for (long i = 0; i < div; ++i) sum += rc.value_pop();
    out.push(sum);
}

void bench_skynet(const Options&) {
    auto start = Clock::now();
    bf::buffered_channel<long> c(chan_cap(1));
    go([&c] { skynet(c, 0, 1000000, 10); });
    long sum = c.value_pop();
    double ms = ns_since(start) / 1e6;
    if (sum != 499999500000L) fail("skynet sum %ld, want 499999500000", sum);
    std::printf("RESULT skynet ms=%.3f\n", ms);
}

// pingpong: the main fiber and one spawned fiber bounce an int over two unbuffered channels,
// 1,000,000 round trips; ns per round trip.
void bench_pingpong(const Options&) {
    constexpr long rounds = 1000000;
    bf::unbuffered_channel<long> ping, pong;
    WaitGroup wg;
    wg.add(1);
    go([&] {
        for (long v : ping) pong.push(v + 1);
        wg.done();
    });
    auto start = Clock::now();
    long v = 0;
    for (long i = 0; i < rounds; ++i) {
        ping.push(v);
        v = pong.value_pop();
    }
    double ns = ns_since(start) / rounds;
    ping.close();
    wg.wait();
    if (v != rounds) fail("pingpong value %ld, want %ld", v, rounds);
    std::printf("RESULT pingpong ns_per_op=%.3f\n", ns);
}

// chan_mpmc: 4 producers (1,000,000 ints each) and 4 consumers on one channel of capacity
// 128 (128 here: 127 slots); ns per message. Checks count and sum of received values.
void bench_chan_mpmc(const Options&) {
    constexpr long producers = 4, consumers = 4, total = 4000000, per = total / producers;
    bf::buffered_channel<long> ch(chan_cap(128));
    struct alignas(64) Tally {
        long sum = 0, count = 0;
    };
    std::vector<Tally> tallies(consumers);
    WaitGroup prod_wg, cons_wg;
    auto start = Clock::now();
    prod_wg.add(producers);
    for (long p = 0; p < producers; ++p)
        go([&, p] {
            for (long i = p * per; i < (p + 1) * per; ++i) ch.push(i);
            prod_wg.done();
        });
    cons_wg.add(consumers);
    for (long c = 0; c < consumers; ++c)
        go([&, c] {
            long sum = 0, count = 0, v;
            while (ch.pop(v) == bf::channel_op_status::success) {
                sum += v;
                ++count;
            }
            tallies[c] = {sum, count};
            cons_wg.done();
        });
    prod_wg.wait();
    ch.close();
    cons_wg.wait();
    double ns = ns_since(start) / total;
    long sum = 0, count = 0;
    for (auto& t : tallies) sum += t.sum, count += t.count;
    if (sum != total * (total - 1) / 2 || count != total)
        fail("chan_mpmc received %ld values summing to %ld, want %ld summing to %ld", count, sum,
             total, total * (total - 1) / 2);
    std::printf("RESULT chan_mpmc ns_per_op=%.3f\n", ns);
}

// yield: 1,000 fibers each call this_fiber::yield 1,000 times; ns per yield.
void bench_yield(const Options&) {
    constexpr long fibers = 1000, yields = 1000;
    WaitGroup wg;
    auto start = Clock::now();
    wg.add(fibers);
    for (long f = 0; f < fibers; ++f)
        go([&wg] {
            for (long i = 0; i < yields; ++i) boost::this_fiber::yield();
            wg.done();
        });
    wg.wait();
    std::printf("RESULT yield ns_per_op=%.3f\n", ns_since(start) / (fibers * yields));
}

// fib: fork-join fib(27): fib(n<2) = n, else spawn fib(n-1) into a channel of capacity 1
// (2 here: exactly 1 slot), compute fib(n-2), receive and add. Result 196418; ms.
long fib(long n) {
    if (n < 2) return n;
    bf::buffered_channel<long> c(chan_cap(1));
    go([&c, n] { c.push(fib(n - 1)); });
    long y = fib(n - 2);
    return c.value_pop() + y;
}

void bench_fib(const Options&) {
    auto start = Clock::now();
    long v = fib(27);
    double ms = ns_since(start) / 1e6;
    if (v != 196418) fail("fib(27) = %ld, want 196418", v);
    std::printf("RESULT fib ms=%.3f\n", ms);
}

// mutex: 100 fibers each do 10,000 lock / increment / unlock on one fibers::mutex;
// ns per lock+unlock. Counter must be 1,000,000.
void bench_mutex(const Options&) {
    constexpr long fibers = 100, iters = 10000;
    bf::mutex mu;
    long counter = 0;
    WaitGroup wg;
    auto start = Clock::now();
    wg.add(fibers);
    for (long f = 0; f < fibers; ++f)
        go([&] {
            for (long i = 0; i < iters; ++i) {
                mu.lock();
                ++counter;
                mu.unlock();
            }
            wg.done();
        });
    wg.wait();
    double ns = ns_since(start) / (fibers * iters);
    if (counter != fibers * iters) fail("mutex counter %ld, want %ld", counter, fibers * iters);
    std::printf("RESULT mutex ns_per_op=%.3f\n", ns);
}

// sleep: 100,000 fibers each sleep a uniform 1..100 ms (fixed seed), then done;
// wall ms (ideal 100) and peak RSS in KiB.
void bench_sleep(const Options&) {
    constexpr long n = 100000;
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> dist(1, 100);
    std::vector<std::chrono::milliseconds> durations(n);
    for (auto& d : durations) d = std::chrono::milliseconds(dist(rng));
    WaitGroup wg;
    auto start = Clock::now();
    wg.add(n);
    for (auto d : durations)
        go([&wg, d] {
            boost::this_fiber::sleep_for(d);
            wg.done();
        });
    wg.wait();
    double ms = ns_since(start) / 1e6;
    std::printf("RESULT sleep wall_ms=%.3f peak_rss_kb=%ld\n", ms, peak_rss_kib());
}

// idle_mem: --n N fibers block receiving on one unbuffered channel; once all have started the
// peak RSS is read, then the channel is closed and all fibers exit. N=0 is the empty-run
// baseline; the harness computes (peak(N) - peak(0)) / N.
void bench_idle_mem(const Options& o) {
    long n = o.n;
    bf::unbuffered_channel<int> ch;
    WaitGroup started, exited;
    started.add(n);
    exited.add(n);
    for (long i = 0; i < n; ++i)
        go([&] {
            started.done();
            int v;
            ch.pop(v);  // returns channel_op_status::closed once ch is closed
            exited.done();
        });
    started.wait();
    long rss = peak_rss_kib();
    ch.close();
    exited.wait();
    std::printf("RESULT idle_mem peak_rss_kb=%ld peak_rss_bytes=%ld n=%ld\n", rss, rss * 1024, n);
}

// ---------------------------------------------------------------------------------------------

int main(int argc, char** argv) {
    static const std::map<std::string, void (*)(const Options&)> workloads = {
        {"spawn", bench_spawn}, {"skynet", bench_skynet}, {"pingpong", bench_pingpong},
        {"chan_mpmc", bench_chan_mpmc}, {"yield", bench_yield}, {"fib", bench_fib},
        {"mutex", bench_mutex}, {"sleep", bench_sleep}, {"idle_mem", bench_idle_mem},
    };
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s <workload> [--procs N] [--n N]\n", argv[0]);
        return 2;
    }
    auto it = workloads.find(argv[1]);
    if (it == workloads.end()) return 3;  // unsupported here (select, servers) or unknown
    Options o;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&](const std::string& flag) -> const char* {
            if (a == flag && i + 1 < argc) return argv[++i];
            if (a.rfind(flag + "=", 0) == 0) return argv[i] + flag.size() + 1;
            return nullptr;
        };
        if (const char* v = value("--procs")) o.procs = std::strtoul(v, nullptr, 10);
        else if (const char* v = value("--n")) o.n = std::strtol(v, nullptr, 10);
        else {
            std::fprintf(stderr, "unknown argument %s\n", a.c_str());
            return 2;
        }
    }
    if (o.procs == 0) o.procs = std::max(1u, std::thread::hardware_concurrency());
    {
        Runtime rt(o.procs);
        it->second(o);
    }
    std::fflush(stdout);
    return 0;
}
