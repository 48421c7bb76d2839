// Host capacity: what each host a plan touches has (libvirt's node info, observed as the facts of
// its host resource), what the domains defined on it commit before and after the plan, and
// whether that keeps the limits its `hosts:` entry declares (Nova's allocation ratios). Every
// domain defined on a host counts, running or not and declared or not: a stopped guest may be
// started at any time, and the host holds what nobody declared too.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/diagnostic.h"
#include "engine/resource.h"

namespace vc {

// The defaults of $defs/host in schemas/desired-state.schema.json (a unit test holds them
// equal): Nova's cpu_allocation_ratio, ram_allocation_ratio and reserved_host_memory_mb.
inline constexpr double kDefaultCpuAllocationRatio = 4.0;
inline constexpr double kDefaultRamAllocationRatio = 1.0;
inline constexpr std::uint64_t kDefaultReservedMemory = 512ULL << 20;

// A figure at or above this share of its limit is "close": a plan that raises a figure there
// warns.
inline constexpr double kCloseToLimit = 0.9;

struct HostLimits {
  double cpu_allocation_ratio = kDefaultCpuAllocationRatio;
  double ram_allocation_ratio = kDefaultRamAllocationRatio;
  std::uint64_t reserved_memory = kDefaultReservedMemory;

  static HostLimits Of(const HostEntry& entry);
};

/// What the domains on one host commit.
struct Commitment {
  int domains = 0;
  std::int64_t vcpus = 0;
  std::uint64_t memory = 0;             // current memory
  std::uint64_t max_memory = 0;         // the ceiling memory hot-add could take them to
  std::vector<std::string> undeclared;  // domains the documents do not declare, by name
};

struct HostCapacity {
  std::string host;
  int cpus = 0;
  std::uint64_t memory = 0;  // the host's
  HostLimits limits;
  Commitment before;
  Commitment after;

  /// vCPUs per host CPU.
  double VcpuRatio(const Commitment& c) const;
  /// (reserved + current memory) per byte of host memory, as Nova counts it.
  double RamRatio(const Commitment& c) const;
  /// (reserved + maximum memory) per byte of host memory: where hot-add could take it.
  double MaxMemoryRatio(const Commitment& c) const;
};

/// The fields a domain commits with: a running one's live values (vCPUs online, the balloon's
/// memory), else its definition's. Placement and the capacity check count alike.
const Json& CommittedFields(const ObservedResource& domain);

/// The capacity of each host in `hosts` as the plan leaves it. `placed` is the placed document,
/// `observed` the host as observed, `after` the observed state the plan's domains are planned
/// from (moves already made), `deleted` what the plan deletes. A host with no observed host
/// resource (or one whose node info is missing) is left out.
std::vector<HostCapacity> ComputeCapacity(const Document& doc, const Document& placed,
                                          const ObservedState& observed, const ObservedState& after,
                                          const std::set<Address>& deleted,
                                          const std::set<std::string>& hosts);

/// Errors for figures the plan takes over a limit (unless `allow_overcommit`: then warnings),
/// warnings for figures it raises to within kCloseToLimit of one, or that stay over one.
Diagnostics CheckCapacity(const std::vector<HostCapacity>& capacity, bool allow_overcommit);

/// {host: {"cpus", "memory", "reserved_memory", "cpu_allocation_ratio", "ram_allocation_ratio",
///  "before": {...}, "after": {...}}}, each commitment {"domains", "vcpus", "memory",
///  "max_memory", "vcpu_ratio", "ram_ratio", "max_memory_ratio", "undeclared"} (bytes as
///  integers, ratios rounded to 3 decimals).
Json CapacityToJson(const std::vector<HostCapacity>& capacity);

/// The headroom a host keeps once `extra` is added to what it commits: the smaller of the vCPU
/// and memory shares of its limits left (1 empty, 0 full, below 0 over); nullopt when its node
/// info is unknown.
std::optional<double> Headroom(const HostCapacity& host, std::int64_t extra_vcpus,
                               std::uint64_t extra_memory);

}  // namespace vc
