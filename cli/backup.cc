// `virtconverge backup` and `virtconverge restore`: the CLI over providers/libvirt/backup.h.
#include "providers/libvirt/backup.h"

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "cli/backup_runner.h"
#include "cli/command_args.h"
#include "cli/commands.h"
#include "cli/driver.h"
#include "engine/names.h"
#include "providers/libvirt/connect.h"
#include "providers/libvirt/libvirt_error.h"

namespace po = boost::program_options;

namespace vc::cli {
namespace {

constexpr const char* kBackupUsage =
    R"(usage: virtconverge backup DOMAIN --to DIR [--incremental] [options]

Back up the disks of the running domain DOMAIN into DIR with libvirt's backup API (push mode):
one qcow2 file per disk, and a libvirt checkpoint made at the same instant, so that
'--incremental' later copies only the blocks written since DIR's last backup. DIR (made when
missing) keeps a manifest, virtconverge-backup.json, of its backups and their chain; one DIR holds
one domain's backups. Progress goes to standard error. Checkpoints need qcow2 v3 disks; other
disks, RBD images included, are copied in full each time (other network disks are refused).
See docs/backup.md.
Exit codes: 0 backed up, 1 error (nothing is left behind: no files, no checkpoint).)";

constexpr const char* kRestoreUsage =
    R"(usage: virtconverge restore --from DIR --disk TARGET --to POOL/VOLUME [--backup NAME] [options]

Create the volume POOL/VOLUME holding disk TARGET (vda) as it was at backup NAME of DIR (default:
the last one): the volume is created through libvirt, then qemu-img writes the backup's chain
(its incremental images over their full one) into it. Never overwrites: an existing volume is
an error. The pool must be a dir, fs, netfs or logical pool on this machine.
Exit codes: 0 restored, 1 error (no volume is left behind).)";

std::string Bytes(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return buffer;
}

void AddCommonOptions(po::options_description& options) {
  options.add_options()("connection,c", po::value<std::string>(),
                        "libvirt URI of this machine (default: $LIBVIRT_DEFAULT_URI, "
                        "qemu:///system)")(
      "timeout", po::value<int>()->default_value(3600),
      "seconds the whole copy may take; then it is aborted and undone (1-604800)");
}

bool TimeoutFrom(const po::variables_map& vm, std::chrono::seconds* timeout) {
  const int t = vm["timeout"].as<int>();
  if (t < 1 || t > 604800) {
    PrintCommandError("--timeout must be between 1 and 604800 seconds");
    return false;
  }
  *timeout = std::chrono::seconds(t);
  return true;
}

StatusOr<libvirt::Connection> Connect(const po::variables_map& vm) {
  libvirt::SilenceDefaultErrorPrinting();
  return libvirt::ConnectWithDeadline(ResolveConnection(OptionText(vm, "connection"), ""),
                                      libvirt::kDefaultDaemonTimeout);
}

}  // namespace

int BackupCommand(const Args& args) {
  po::options_description options("backup options");
  options.add_options()("to", po::value<std::string>(), "the backup directory (required)")(
      "incremental", po::bool_switch(),
      "copy only the blocks changed since DIR's last backup (its checkpoint)");
  AddCommonOptions(options);
  po::variables_map vm;
  int code = 0;
  if (!ParseCommandArgs(args, std::string(kBackupUsage) + "\n", options, {"domain"}, &vm, &code))
    return code;
  const std::string domain = OptionText(vm, "domain");
  if (domain.empty()) return FailCommand(Status::InvalidArgument("name the domain to back up"));
  if (OptionText(vm, "to").empty())
    return FailCommand(Status::InvalidArgument("--to DIR is required (the backup directory)"));
  libvirt::BackupOptions backup;
  backup.dir = OptionText(vm, "to");
  backup.incremental = vm["incremental"].as<bool>();
  if (!TimeoutFrom(vm, &backup.deadline)) return kCommandError;
  std::optional<std::uint64_t> last_printed;
  backup.progress = [&](const libvirt::BackupProgress& p) {
    if (!p.processed || !p.total || p.processed == last_printed) return;
    last_printed = p.processed;
    const double percent =
        *p.total == 0 ? 100.0
                      : 100.0 * static_cast<double>(*p.processed) / static_cast<double>(*p.total);
    std::fprintf(stderr, "  %s of %s (%.0f%%), %.1f s\n", Bytes(*p.processed).c_str(),
                 Bytes(*p.total).c_str(), percent, p.elapsed_seconds);
  };

  StatusOr<libvirt::Connection> conn = Connect(vm);
  if (!conn.ok()) return FailCommand(conn.status());
  std::cerr << (backup.incremental ? "Incremental" : "Full") << " backup of " << domain << " into "
            << backup.dir << ":\n";
  StatusOr<libvirt::BackupRecord> record = libvirt::BackupDomain(conn->get(), domain, backup);
  if (!record.ok()) return FailCommand(record.status());
  std::printf("Backup %s of %s: %s copied in %.2f s", record->name.c_str(), domain.c_str(),
              record->processed ? Bytes(*record->processed).c_str() : "(size not reported)",
              record->seconds);
  if (!record->checkpoint.empty()) std::printf(", checkpoint %s", record->checkpoint.c_str());
  if (!record->parent.empty()) std::printf(", on top of %s", record->parent.c_str());
  std::printf(".\n");
  for (const libvirt::BackupDisk& d : record->disks) {
    std::printf("  %-6s %-40s %10s  (%s of %s)\n", d.target.c_str(), d.file.c_str(),
                Bytes(d.file_size).c_str(), d.mode.c_str(), Bytes(d.virtual_size).c_str());
  }
  return kCommandOk;
}

int RestoreCommand(const Args& args) {
  po::options_description options("restore options");
  options.add_options()("from", po::value<std::string>(), "the backup directory (required)")(
      "backup", po::value<std::string>(), "the backup to restore (default: the last one)")(
      "disk", po::value<std::string>(), "the disk's target in the guest, e.g. vda (required)")(
      "to", po::value<std::string>(), "POOL/VOLUME to create (required; must not exist)")(
      "format", po::value<std::string>(), "qcow2 or raw (default: qcow2; raw in a logical pool)");
  AddCommonOptions(options);
  po::variables_map vm;
  int code = 0;
  if (!ParseCommandArgs(args, std::string(kRestoreUsage) + "\n", options, {}, &vm, &code))
    return code;
  libvirt::RestoreOptions restore;
  restore.dir = OptionText(vm, "from");
  restore.backup = OptionText(vm, "backup");
  restore.disk = OptionText(vm, "disk");
  restore.format = OptionText(vm, "format");
  const std::string to = OptionText(vm, "to");
  if (restore.dir.empty()) return FailCommand(Status::InvalidArgument("--from DIR is required"));
  if (restore.disk.empty())
    return FailCommand(Status::InvalidArgument("--disk TARGET is required"));
  const std::size_t slash = to.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == to.size() ||
      to.find('/', slash + 1) != std::string::npos)
    return FailCommand(Status::InvalidArgument("--to must be POOL/VOLUME, not '" + to + "'"));
  restore.pool = to.substr(0, slash);
  restore.volume = to.substr(slash + 1);
  if (!TimeoutFrom(vm, &restore.deadline)) return kCommandError;

  StatusOr<libvirt::Connection> conn = Connect(vm);
  if (!conn.ok()) return FailCommand(conn.status());
  StatusOr<libvirt::RestoreResult> result = libvirt::RestoreVolume(conn->get(), restore);
  if (!result.ok()) return FailCommand(result.status());
  std::printf("Restored disk %s of backup %s into volume %s (%s, %s) in %.2f s.\n",
              restore.disk.c_str(), result->backup.c_str(), to.c_str(), result->format.c_str(),
              Bytes(result->virtual_size).c_str(), result->seconds);
  std::printf("  path: %s\n", result->volume_path.c_str());
  for (const std::string& image : result->chain) std::printf("  from: %s\n", image.c_str());
  return kCommandOk;
}

StatusOr<Json> RunBackup(const std::string& uri, const BackupRequest& request) {
  libvirt::SilenceDefaultErrorPrinting();
  StatusOr<libvirt::Connection> conn =
      libvirt::ConnectWithDeadline(uri, libvirt::kDefaultDaemonTimeout);
  if (!conn.ok()) return conn.status();
  libvirt::BackupOptions options;
  options.dir = request.dir;
  options.incremental = request.incremental;
  options.deadline = std::chrono::seconds(request.timeout_seconds);
  StatusOr<libvirt::BackupRecord> record =
      libvirt::BackupDomain(conn->get(), request.domain, options);
  if (!record.ok()) return record.status();
  return libvirt::BackupRecordToJson(*record);
}

}  // namespace vc::cli
