// runtime/sched/topology.cpp
//
// P i's home is the (i mod cores)-th core with an allowed PU, in hwloc's topology order, so
// consecutive Ps fill one cache domain before the next. Without pinning the home is only
// nominal (the kernel places threads) but still orders stealing sensibly.
#include "sched/topology.hpp"

#include <sched.h>

namespace goro::rt {

Topology& Topology::get() {
  static Topology instance;
  return instance;
}

Topology::Topology() {
  hwloc_topology_init(&topo_);
  hwloc_topology_load(topo_);
  allowed_ = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(topo_));
  // The process's own affinity (taskset, sched_setaffinity) narrows the cgroup's cpuset.
  hwloc_bitmap_t bound = hwloc_bitmap_alloc();
  if (hwloc_get_cpubind(topo_, bound, HWLOC_CPUBIND_PROCESS) == 0 && !hwloc_bitmap_iszero(bound))
    hwloc_bitmap_and(allowed_, allowed_, bound);
  hwloc_bitmap_free(bound);

  for (hwloc_obj_t pu = nullptr;
       (pu = hwloc_get_next_obj_by_type(topo_, HWLOC_OBJ_PU, pu)) != nullptr;) {
    if (!hwloc_bitmap_isset(allowed_, static_cast<unsigned>(pu->os_index))) continue;
    pus_.push_back(pu);
    hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(topo_, HWLOC_OBJ_CORE, pu);
    if (!core) core = pu;  // no core level reported: treat each PU as a core
    if (cores_.empty() || cores_.back() != core) cores_.push_back(core);
  }
  if (pus_.empty()) {  // hwloc saw nothing usable: fall back to what the kernel says
    cpu_set_t set;
    unsigned n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    pus_.assign(n ? n : 1, nullptr);
  }
}

Topology::~Topology() {
  hwloc_bitmap_free(allowed_);
  hwloc_topology_destroy(topo_);
}

hwloc_obj_t Topology::home_core(unsigned p, unsigned procs) const {
  (void)procs;
  if (cores_.empty()) return nullptr;
  return cores_[p % cores_.size()];
}

int Topology::distance(unsigned a, unsigned b, unsigned procs) const {
  hwloc_obj_t ca = home_core(a, procs), cb = home_core(b, procs);
  if (!ca || !cb) return kDistances - 1;
  if (ca == cb) return 0;
  for (hwloc_obj_type_t cache : {HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L2CACHE}) {
    hwloc_obj_t x = hwloc_get_ancestor_obj_by_type(topo_, cache, ca);
    if (x && x == hwloc_get_ancestor_obj_by_type(topo_, cache, cb)) return 1;
  }
  if (ca->nodeset && cb->nodeset && hwloc_bitmap_isequal(ca->nodeset, cb->nodeset)) return 2;
  return 3;
}

void Topology::pin_thread(unsigned p, unsigned procs) const {
  hwloc_obj_t core = home_core(p, procs);
  if (!core) return;
  hwloc_bitmap_t set = hwloc_bitmap_dup(core->cpuset);
  hwloc_bitmap_and(set, set, allowed_);
  hwloc_set_cpubind(topo_, set, HWLOC_CPUBIND_THREAD);
  hwloc_bitmap_free(set);
}

}  // namespace goro::rt
