// The one interface every backend (libvirt, later Ceph) implements. A provider observes and
// carries out steps; it never decides what to change: the planner and the applier do.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "engine/resource.h"
#include "engine/status.h"

namespace vc {

/// One operation on one resource. `spec` carries what the operation needs (the whole desired
/// resource for kCreate and kWriteConfig; {"autostart": bool}; {"capacity": "4GiB"};
/// {"target": "vdb", "capacity": "4GiB"}; {"timeout_seconds": 60}). kResizeVolume also
/// resizes RBD images; {"allow_shrink": true} when the plan allowed a destructive shrink.
struct Step {
  enum class Op {
    kCreate,        // define (and build/start for pools and networks) a new resource
    kDelete,        // undefine a pool, network or domain (stopped first); delete a volume
    kWriteConfig,   // domain: bring the persistent config to the declared hardware
    kStart,         // domain, pool or network
    kShutdown,      // domain: ACPI shutdown, then destroy after timeout_seconds
    kSetAutostart,  // domain, pool or network
    kResizeVolume,  // volume: grow to capacity
    kBlockResize,   // domain: tell the running guest that disk `target` is now `capacity`
    kUpdateFeatures,   // RBD image: {"enable": [...], "disable": [...]}
    kCreateSnapshots,  // RBD image: {"snapshots": [...]}
    kFlatten,          // RBD image: copy the parent's data in, drop the parent link
    // Changes to the running guest only (its persistent config is written by kWriteConfig):
    kSetVcpusLive,         // {"vcpus": n}: hot-plug vCPUs
    kSetMemoryLive,        // {"memory": "768MiB"}: balloon target
    kAttachMemoryLive,     // {"size": "512MiB"}: hot-add one DIMM
    kAttachDiskLive,       // a declared disk: {"volume", "target", "bus"?, "discard"?}
    kDetachDiskLive,       // {"target": "vdb"}: detach, then confirm the guest released it
    kAttachInterfaceLive,  // a declared interface with its MAC: {"network", "mac", "model"?}
    kDetachInterfaceLive,  // {"mac": ...}: detach, then confirm the guest released it
  };
  Op op;
  Address address;
  Json spec;

  /// One line for logs and apply output: "start domain.web1".
  std::string Describe() const;
};

class Provider {
 public:
  virtual ~Provider() = default;

  /// The connection the provider talks to, as a URI.
  virtual const std::string& uri() const = 0;

  /// Reads everything the provider manages. Unavailable when the daemon cannot be reached.
  virtual StatusOr<ObservedState> ObserveAll() = 0;

  /// Reads one resource; nullopt when it does not exist.
  virtual StatusOr<std::optional<ObservedResource>> ObserveOne(const Address& address) = 0;

  /// Reads the resources in `addresses`; those that do not exist are not in the result. The
  /// default reads them one by one, which beats ObserveAll when they are few and the host is big.
  virtual StatusOr<ObservedState> ObserveSome(const std::set<Address>& addresses);

  /// Carries out one step. Safe to call from several threads at once.
  virtual Status Execute(const Step& step) = 0;
};

}  // namespace vc
