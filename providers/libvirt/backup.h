// Backups of a running domain's disks with libvirt's backup API (push mode), and restoring one
// disk of a backup into a new volume. A provider-level operation like migration.h: it copies
// what it is told to; it never decides what should be backed up or when.
//
// A backup directory holds one domain's backups: one qcow2 file per disk and backup, and a
// manifest (virtconverge-backup.json) naming each backup, its checkpoint and, for an incremental
// one, the backup and checkpoint it builds on, so a restore knows the chain. Each backup creates
// a libvirt checkpoint atomically with it (a persistent dirty bitmap in each qcow2 disk); the next
// incremental backup copies only the blocks written since. See docs/backup.md.
//
// Limits: the connection must be local (the directory and the pool are read and written on this
// machine; qemu-img runs here); only qcow2 v3 (compat 1.1) disks can carry a checkpoint: other
// file and block disks, and network disks (RBD images), are copied in full every time.
// Thread-safety: each call is independent; libvirt refuses a second job on the same domain.
#pragma once

#include <libvirt/libvirt.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/resource.h"
#include "engine/status.h"

namespace vc::libvirt {

/// The manifest's file name inside a backup directory.
inline constexpr const char* kBackupManifest = "virtconverge-backup.json";

/// A sample of a running backup job (virDomainGetJobStats). Unset when libvirt does not report
/// the value (yet): unset is not zero. Bytes.
struct BackupProgress {
  std::optional<std::uint64_t> processed;
  std::optional<std::uint64_t> total;
  double elapsed_seconds = 0;  // since the job began
};

/// One disk of one backup, as the manifest records it.
struct BackupDisk {
  std::string target;       // the guest's device name: "vda"
  std::string file;         // the backup image, relative to the backup directory
  std::string mode;         // "full" or "incremental" (only the blocks changed since the parent)
  bool checkpoint = false;  // the checkpoint tracks this disk (a qcow2 disk: a dirty bitmap)
  std::uint64_t virtual_size = 0;  // the disk's size as the guest sees it
  std::uint64_t file_size = 0;     // bytes the backup image takes (its length)
};

/// One backup in a directory.
struct BackupRecord {
  std::string name;                        // "full-20261207T095503Z", "inc-…"
  std::string kind;                        // "full" or "incremental"
  std::string started;                     // UTC, ISO 8601
  std::string completed;                   // UTC, ISO 8601
  std::string checkpoint;                  // created with it; "" when no disk can carry one
  std::string parent;                      // for an incremental backup: the backup it builds on
  std::string parent_checkpoint;           // … and that backup's checkpoint
  std::optional<std::uint64_t> processed;  // bytes the job copied, as libvirt reports
  double seconds = 0;                      // wall time of the job
  std::vector<BackupDisk> disks;
};

/// What a backup directory holds.
struct BackupManifest {
  int format_version = 1;
  std::string domain;       // name when the first backup was taken
  std::string domain_uuid;  // the domain is this UUID: another domain's directory is refused
  std::vector<BackupRecord> backups;  // oldest first
};

struct BackupOptions {
  std::string dir;  // created when missing (its parent must exist)
  /// Only the blocks changed since the directory's last backup (its checkpoint). Refused when
  /// the directory has no backup of this domain or its last checkpoint is gone.
  bool incremental = false;
  /// The whole job must finish within this; at the deadline the job is aborted
  /// (virDomainAbortJob), its checkpoint deleted and its files removed (kTimeout).
  std::chrono::seconds deadline{3600};
  std::chrono::milliseconds poll_interval{200};
  /// Called with each sample while the job runs, on the caller's thread.
  std::function<void(const BackupProgress&)> progress;
};

/// Backs up the running domain `domain` (its name) on `conn` into `options.dir`: begins a
/// push-mode backup (virDomainBackupBegin) of every file, volume and block disk (CD-ROMs,
/// floppies and read-only disks are left out) to new qcow2 files, with a checkpoint of the qcow2
/// disks created atomically with it; waits for the job, reporting progress; then records the
/// backup in the manifest (written atomically). Returns the record.
///
/// Nothing is left behind on failure: the checkpoint this call created is deleted (its bitmap
/// merges back into the parent's, so the next incremental still sees every change) and the
/// partial files are removed; the manifest is only written on success. Errors: kNotFound (no such
/// domain), kOperationFailed (the domain is not running; the directory cannot be made or written;
/// --incremental with no previous backup or checkpoint; the directory belongs to another
/// domain; libvirt refused or failed the job), kUnsupported (a network disk; a remote
/// connection), kTimeout (the deadline passed; the job was aborted), kConnectionLost.
/// REQUIRES: `conn` is a read-write connection to a local libvirtd (ConnectWithDeadline).
StatusOr<BackupRecord> BackupDomain(virConnectPtr conn, const std::string& domain,
                                    const BackupOptions& options);

/// One backup as the manifest records it (and `serve` and the HTTP API answer it): {"name",
/// "kind", "started", "completed", "checkpoint", "parent", "parent_checkpoint", "processed",
/// "seconds", "disks": [{"target", "file", "mode", "checkpoint", "virtual_size", "file_size"}]}.
Json BackupRecordToJson(const BackupRecord& record);

/// The manifest of `dir`. NotFound when there is none; InvalidArgument (naming the file and the
/// field) when it cannot be read.
StatusOr<BackupManifest> ReadBackupManifest(const std::string& dir);

struct RestoreOptions {
  std::string dir;
  std::string backup;  // a backup's name; "" for the last one
  std::string disk;    // the disk's target: "vda"
  std::string pool;    // an active pool whose volumes are files or block devices
  std::string volume;  // must not exist
  std::string format;  // "qcow2" or "raw"; "" for qcow2 (raw in a logical pool)
  /// qemu-img must finish within this; then it is killed and the new volume deleted (kTimeout).
  std::chrono::seconds deadline{3600};
};

struct RestoreResult {
  std::string backup;              // the backup restored
  std::vector<std::string> chain;  // its images for the disk, newest first, ending at a full one
  std::string volume_path;         // where the new volume is
  std::string format;
  std::uint64_t virtual_size = 0;
  double seconds = 0;
};

/// Creates the volume `options.pool`/`options.volume` holding disk `options.disk` as it was at
/// the backup: a volume of the disk's size is created through libvirt, then qemu-img (argv, no
/// shell, with the deadline) converts the backup's chain (the incremental images over their
/// full one, stacked by JSON image options: the images are read, never changed) into it.
/// Never overwrites: an existing volume is refused before anything is made; on failure the new
/// volume is deleted. Errors: kNotFound (no manifest, backup, disk in it, image file, or pool),
/// kOperationFailed (the volume exists; the pool is inactive; qemu-img failed), kUnsupported
/// (a pool whose volumes are not local files or block devices), kTimeout.
StatusOr<RestoreResult> RestoreVolume(virConnectPtr conn, const RestoreOptions& options);

}  // namespace vc::libvirt
