// One operation apply makes on one resource. The planner decides every step and its arguments;
// the plan lists them (JSON and text), and apply runs exactly those, in order.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/address.h"
#include "engine/resource.h"
#include "engine/status.h"

namespace vc {

/// `args`, by operation (sizes are integers in bytes; other values in the document's canonical
/// form):
///   create                 the resource as declared, with every choice made (a domain's MACs)
///   delete                 {} (a domain is stopped first by a shutdown step when running)
///   write_config           domain: the declared fields to write into its persistent config
///   start, flatten         {}
///   shutdown               {"timeout_seconds": n}: ACPI, then forced off after n seconds
///   set_autostart          {"autostart": bool}
///   resize                 volume or RBD image: {"bytes": n, "allow_shrink": bool}
///   block_resize           domain: {"target": "vdb", "bytes": n}: the running guest's disk grows
///   update_features        RBD image: {"enable": [...], "disable": [...]}
///   create_snapshots       RBD image: {"snapshots": [...]}
///   protect_snapshot       RBD image: {"snapshot": name}: clones may then be made from it
///   set_vcpus_live         {"vcpus": n}
///   set_memory_live        {"bytes": n}: balloon target
///   attach_memory_live     {"bytes": n}: one DIMM
///   attach_disk_live       a declared disk: {"volume"|"rbd", "target", "bus"?, "discard"?}
///   detach_disk_live       {"target": "vdb"}
///   attach_interface_live  {"network", "mac", "model"?}
///   detach_interface_live  {"mac"}
///   define_ceph_secret     domain: {"user", "uuid"}: the libvirt secret its RBD disks name,
///                          defined again with the cephx key (the key itself is never in a plan)
///   migrate                domain, at the host it is on: {"to": host, "live": bool,
///                          "copy_disks": [targets]}: live migration (local disks copied into
///                          volumes already made on `to`), or for a stopped domain its
///                          definition moved; afterwards it is on `to` only
///   set_ksm                host: {"settings": {"enabled"?, "pages_to_scan"?,
///                          "sleep_millisecs"?, "merge_across_nodes"?}}: the KSM settings that
///                          differ, as declared
///   write_seed             domain: {"pool", "volume", "seed": "sha256:<hex>", "cloud_init": the
///                          declared value}: the cidata image built from cloud_init (it must hash
///                          to `seed`, else nothing is written) into the volume, made if missing
///   snapshot_domain        domain: {"snapshot": name, "consistency": "quiesce"|"pause"|"stopped",
///                          "disks": [{"target", "volume"|"rbd"}]}: every disk snapshotted at one
///                          point in time (volumes: an external qcow2 overlay <volume>@<name>;
///                          RBD images: librbd snapshot vcsnap-<name>), recorded in the domain
///   delete_domain_snapshot domain: {"snapshot": name, "running": bool, "disks": [...]}: the
///                          snapshot's overlays merged into the layer below, its RBD snapshots
///                          removed, its record dropped
/// Never planned; the composite backend and the `revert` command run them for the steps above:
///   freeze, thaw           domain: {"consistency": "quiesce"|"pause"}: file systems frozen by
///                          the guest agent (thawed), or the guest paused (resumed)
///   remove_snapshot        RBD image: {"snapshot": name} (gone already: nothing to do)
///   rollback_snapshot      RBD image: {"snapshot": name, "remove": [later snapshots]}
///   revert_domain_snapshot domain (stopped): {"snapshot": name}: the volume disks back to that
///                          point; later snapshots of the domain dropped
struct Step {
  enum class Op {
    kCreate,
    kDelete,
    kWriteConfig,
    kStart,
    kShutdown,
    kSetAutostart,
    kResize,
    kBlockResize,
    kUpdateFeatures,
    kCreateSnapshots,
    kProtectSnapshot,
    kFlatten,
    kSetVcpusLive,
    kSetMemoryLive,
    kAttachMemoryLive,
    kAttachDiskLive,
    kDetachDiskLive,
    kAttachInterfaceLive,
    kDetachInterfaceLive,
    kDefineCephSecret,
    kMigrate,
    kSetKsm,
    kWriteSeed,
    kSnapshotDomain,
    kDeleteDomainSnapshot,
    kFreezeDomain,
    kThawDomain,
    kRemoveSnapshot,
    kRollbackSnapshot,
    kRevertDomainSnapshot,
  };
  Op op;
  Address address;
  Json args;

  /// One line for the plan and apply output: "hot-add a 512MiB DIMM to domain.web1".
  std::string Describe() const;

  bool operator==(const Step&) const = default;
};

/// "create", "attach_memory_live", ...
std::string_view OpName(Step::Op op);
std::optional<Step::Op> OpFromName(std::string_view name);

/// The byte count `args[key]`; InvalidArgument naming the step when it is missing or not a
/// positive integer.
StatusOr<std::uint64_t> ArgBytes(const Step& step, const char* key);

/// {"op", "address", "args", "description"}.
Json StepToJson(const Step& step);

}  // namespace vc
