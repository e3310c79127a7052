// runtime/sched/topology.hpp — the machine as hwloc sees it: how many Ps by default, where to
// pin workers, and how far apart two Ps are (for stealing nearest first).
#pragma once

#include <hwloc.h>

#include <vector>

namespace goro::rt {

class Topology {
 public:
  // Loaded once per process (reading sysfs takes milliseconds).
  static Topology& get();

  // PUs (hardware threads) this process may run on: its affinity mask within the cgroup's cpuset.
  unsigned allowed_pus() const { return static_cast<unsigned>(pus_.size()); }

  // Distance between the home cores of P `a` and P `b` with `procs` Ps:
  // 0 same core, 1 same shared cache, 2 same NUMA node, 3 further.
  int distance(unsigned a, unsigned b, unsigned procs) const;
  static constexpr int kDistances = 4;

  // Binds the calling thread to the home core of P `p` (all of that core's allowed PUs).
  void pin_thread(unsigned p, unsigned procs) const;

  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

 private:
  Topology();
  ~Topology();
  hwloc_obj_t home_core(unsigned p, unsigned procs) const;

  hwloc_topology_t topo_ = nullptr;
  hwloc_bitmap_t allowed_ = nullptr;     // allowed PUs
  std::vector<hwloc_obj_t> cores_;       // cores with at least one allowed PU, topology order
  std::vector<hwloc_obj_t> pus_;         // allowed PUs, topology order (null entries: hwloc saw none)
};

}  // namespace goro::rt
