// runtime/diag/dump.cpp — goro::dump(): one block per live goroutine, like Go's traceback of
// all goroutines (without the stack trace: a parked goroutine's frames are not walked).
//
//   goroutine 7 [chan receive, 1.2s]:
//       created at /src/server.cpp:42 in serve(Conn)
#include "diag/symbolize.hpp"
#include "os/clock.hpp"
#include "sched/sched.hpp"

#include <goro/runtime.hpp>

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <vector>

namespace goro::rt {
namespace {

struct Snapshot {
  std::uint64_t id;
  GStatus status;
  WaitReason reason;
  std::int64_t since;
  const void* pc;
};

std::string format_waited(std::int64_t ns) {
  char buf[32];
  const std::int64_t ms = ns / 1'000'000;
  if (ms < 1000) std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
  else if (ms < 60'000) std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000);
  else std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(ms / 60'000),
                     static_cast<long long>(ms / 1000 % 60));
  return buf;
}

const char* status_text(GStatus s) {
  switch (s) {
    case GStatus::runnable: return "runnable";
    case GStatus::running: return "running";
    case GStatus::blocking: return "syscall";  // inside goro::blocking()
    case GStatus::waiting:
    case GStatus::free: break;
  }
  return "waiting";
}

}  // namespace

std::string dump_string() {
  std::vector<Snapshot> gs;
  sched.gpool.for_each([&](G& g) {
    const GStatus s = g.state();
    if (s == GStatus::free) return;
    gs.push_back({g.id.load(std::memory_order_relaxed), s,
                  g.wait_reason.load(std::memory_order_relaxed),
                  g.wait_since.load(std::memory_order_relaxed),
                  g.spawn_pc.load(std::memory_order_relaxed)});
  });
  std::sort(gs.begin(), gs.end(), [](const Snapshot& a, const Snapshot& b) { return a.id < b.id; });

  const std::int64_t now = os::coarse_now_ns();
  std::string out;
  for (const Snapshot& g : gs) {
    out += "goroutine " + std::to_string(g.id) + " [";
    if (g.status == GStatus::waiting) {
      out += detail::describe(g.reason);
      out += ", " + format_waited(std::max<std::int64_t>(now - g.since, 0));
    } else {
      out += status_text(g.status);
    }
    out += "]:\n    created at " + spawn_site(g.pc) + "\n\n";
  }
  return out;
}

}  // namespace goro::rt

namespace goro {

void dump(std::ostream& out) {
  using namespace rt;
  if (const ExternalScope external(!current_m()); external.admitted())
    out << dump_string();
  else
    out << "goro: no runtime is running\n";
}

}  // namespace goro
