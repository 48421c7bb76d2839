// Live migration of a running domain between two libvirt hosts, and the CPU checks that tell
// whether a host can run a domain's CPU at all: the provider-level primitive the engine's
// `migrate` step (issue #11) builds on. It moves a domain; it never decides where a domain goes.
//
// The migration is client-driven (libvirt's migration protocol v3 coordinated by this process
// over the two connections it already holds), not peer-to-peer: see
// docs/notes-migration-primitive.md for why. Thread-safety: each call is independent; two
// migrations of different domains may run at once (libvirt connections are thread-safe), the
// same domain must not be migrated twice at once (libvirt refuses the second).
#pragma once

#include <libvirt/libvirt.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/status.h"

namespace vc::libvirt {

/// A sample of the source's migration job (virDomainGetJobStats). Unset when libvirt does not
/// report the value (yet): unset is not zero. Bytes throughout.
struct MigrationProgress {
  std::optional<std::uint64_t> data_total;
  std::optional<std::uint64_t> data_processed;
  std::optional<std::uint64_t> data_remaining;
  std::optional<std::uint64_t> memory_total;
  std::optional<std::uint64_t> memory_processed;
  std::optional<std::uint64_t> memory_remaining;
  std::optional<std::uint64_t> disk_total;  // only with copy_storage
  std::optional<std::uint64_t> disk_remaining;
  /// Wall time since MigrateLive started (not libvirt's job time).
  double elapsed_seconds = 0;
};

struct MigrationOptions {
  /// Copy local disks to the destination (VIR_MIGRATE_NON_SHARED_DISK). Leave false for disks
  /// both hosts reach (Ceph RBD): then only memory and device state move.
  bool copy_storage = false;
  /// The whole migration must finish within this; at the deadline the source's job is aborted
  /// (virDomainAbortJob) and the domain keeps running on the source (kTimeout).
  std::chrono::seconds deadline{300};
  /// Called with each sample while the migration runs, ON THE MONITOR THREAD (not the caller's):
  /// must be thread-safe and quick. An exception it throws stops further calls, nothing else.
  std::function<void(const MigrationProgress&)> progress;
  std::chrono::milliseconds poll_interval{100};
  /// Where QEMU on the destination listens, as the source sees it ("tcp://127.0.0.3"); empty:
  /// the destination's own migration_host/migration_address (qemu.conf) decide.
  std::string migration_uri;
  /// Bandwidth cap for the migration stream (VIR_MIGRATE_PARAM_BANDWIDTH), MiB/s; unset: none.
  std::optional<std::uint64_t> bandwidth_mib_per_second;
};

/// What a finished migration measured. Values from the destination's completed-job statistics
/// are unset when libvirt did not report them.
struct MigrationStats {
  double wall_seconds = 0;                      // the whole call, Begin to Confirm
  std::optional<std::uint64_t> downtime_ms;     // the guest was paused this long
  std::optional<std::uint64_t> qemu_time_ms;    // QEMU's own migration time
  std::optional<std::uint64_t> data_processed;  // bytes sent
  int progress_samples = 0;                     // how often `progress` was called
};

/// Moves the running domain `domain` (its name) live from `source` to `destination`, with
/// VIR_MIGRATE_LIVE | PERSIST_DEST | UNDEFINE_SOURCE (plus NON_SHARED_DISK when copy_storage):
/// afterwards it runs on the destination, defined there (its inactive configuration comes
/// along), and is gone from the source.
///
/// Then checks where the domain really is, by UUID, on both hosts. Ok only when it runs and is
/// persistent on the destination and is absent from the source. On failure the domain still
/// runs on the source: if libvirt left it paused there and the destination is known not to run
/// it, it is resumed; the message says where the domain is (or that the destination could not be
/// asked). Errors: kNotFound (no such domain on the source), kInvalidValue (source and
/// destination are one host), kTimeout (the deadline passed; the job was aborted),
/// kConnectionLost (a daemon stopped answering: keepalive of the connections), kOperationFailed
/// (the domain is not running, libvirt refused or failed the move, or the check afterwards found
/// the domain elsewhere than expected), kInternal (it ended up running on both hosts: libvirt's
/// Finish was lost while the destination resumed it; needs a person). `stats`, when given, is
/// filled on success.
///
/// REQUIRES: `source` and `destination` are read-write connections to two different hosts
/// (different host UUIDs), opened with ConnectWithDeadline so every RPC is bounded by keepalive.
Status MigrateLive(virConnectPtr source, virConnectPtr destination, const std::string& domain,
                   const MigrationOptions& options, MigrationStats* stats = nullptr);

/// Whether `destination` can run the CPU in `domain_xml_or_cpu_xml` (a <domain> with a <cpu>,
/// or a bare <cpu> element), as virConnectCompareHypervisorCPU says for its hypervisor (the
/// domain's type, arch, machine and emulator when a domain is given). Ok when compatible, or
/// when a domain has no <cpu> (the hypervisor's default model: nothing to compare).
/// When libvirt finds it incompatible: kOperationFailed with libvirt's reason in the message,
/// and `missing_features` (when given) set to the features the CPU requires (its model's,
/// expanded, and its own) that the destination's host-model CPU lacks, sorted; it stays empty
/// when the difference is not a feature (a vendor, an unknown model).
Status CheckCpuCompatible(virConnectPtr destination, const std::string& domain_xml_or_cpu_xml,
                          std::vector<std::string>* missing_features = nullptr);

/// A guest CPU definition (<cpu mode='custom' match='exact'>…</cpu>) every host in `hosts` can
/// run: the baseline (virConnectBaselineHypervisorCPU, migratable features only) of each host's
/// host-model CPU (virConnectGetDomainCapabilities), computed on the first host and then
/// checked with CheckCpuCompatible on every host. kInvalidValue for an empty list,
/// kUnsupported when a host has no usable host-model CPU, kOperationFailed when libvirt finds
/// no common CPU or a host refuses the result.
StatusOr<std::string> BaselineCpu(const std::vector<virConnectPtr>& hosts);

}  // namespace vc::libvirt
