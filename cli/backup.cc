// `virtconverge backup` and `virtconverge restore`: the CLI over providers/libvirt/backup.h.
#include "providers/libvirt/backup.h"

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "cli/backup_runner.h"
#include "cli/commands.h"
#include "cli/driver.h"
#include "engine/names.h"
#include "providers/libvirt/connect.h"
#include "providers/libvirt/libvirt_error.h"

namespace po = boost::program_options;

namespace vc::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;

constexpr const char* kBackupUsage =
    R"(usage: virtconverge backup DOMAIN --to DIR [--incremental] [options]

Back up the disks of the running domain DOMAIN into DIR with libvirt's backup API (push mode):
one qcow2 file per disk, and a libvirt checkpoint made at the same instant, so that
'--incremental' later copies only the blocks written since DIR's last backup. DIR (made when
missing) keeps a manifest, virtconverge-backup.json, of its backups and their chain; one DIR holds
one domain's backups. Progress goes to standard error. Checkpoints need qcow2 v3 disks; other
disks are copied in full each time; network (RBD) disks are refused. See docs/backup.md.
Exit codes: 0 backed up, 1 error (nothing is left behind: no files, no checkpoint).)";

constexpr const char* kRestoreUsage =
    R"(usage: virtconverge restore --from DIR --disk TARGET --to POOL/VOLUME [--backup NAME] [options]

Create the volume POOL/VOLUME holding disk TARGET (vda) as it was at backup NAME of DIR (default:
the last one): the volume is created through libvirt, then qemu-img writes the backup's chain
(its incremental images over their full one) into it. Never overwrites: an existing volume is
an error. The pool must be a dir, fs, netfs or logical pool on this machine.
Exit codes: 0 restored, 1 error (no volume is left behind).)";

void PrintError(const std::string& message) {
  std::cerr << "error: " << EscapeInvalidUtf8(message) << "\n";
}

int Fail(const Status& status) {
  PrintError(status.message());
  return kExitError;
}

// Parses `args`; false (having printed why or the help) when the process should exit with
// *exit_code. `positional` names the one positional argument, if any.
bool ParseArgs(const Args& args, const char* usage, po::options_description& options,
               const char* positional, po::variables_map* vm, int* exit_code) {
  options.add_options()("help,h", "show this help");
  po::options_description hidden;
  po::positional_options_description positionals;
  if (positional != nullptr) {
    hidden.add_options()(positional, po::value<std::string>(), positional);
    positionals.add(positional, 1);
  }
  po::options_description all;
  all.add(options).add(hidden);
  try {
    po::store(po::command_line_parser(args).options(all).positional(positionals).run(), *vm);
    po::notify(*vm);
  } catch (const po::error& e) {
    PrintError(std::string(e.what()) + " (see --help)");
    *exit_code = kExitError;
    return false;
  }
  if (vm->count("help")) {
    std::cout << usage << "\n\n" << options;
    *exit_code = kExitOk;
    return false;
  }
  return true;
}

std::string Text(const po::variables_map& vm, const char* name) {
  return vm.count(name) ? vm[name].as<std::string>() : std::string();
}

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
    PrintError("--timeout must be between 1 and 604800 seconds");
    return false;
  }
  *timeout = std::chrono::seconds(t);
  return true;
}

StatusOr<libvirt::Connection> Connect(const po::variables_map& vm) {
  libvirt::SilenceDefaultErrorPrinting();
  return libvirt::ConnectWithDeadline(ResolveConnection(Text(vm, "connection"), ""),
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
  if (!ParseArgs(args, kBackupUsage, options, "domain", &vm, &code)) return code;
  const std::string domain = Text(vm, "domain");
  if (domain.empty()) return Fail(Status::InvalidArgument("name the domain to back up"));
  if (Text(vm, "to").empty())
    return Fail(Status::InvalidArgument("--to DIR is required (the backup directory)"));
  libvirt::BackupOptions backup;
  backup.dir = Text(vm, "to");
  backup.incremental = vm["incremental"].as<bool>();
  if (!TimeoutFrom(vm, &backup.deadline)) return kExitError;
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
  if (!conn.ok()) return Fail(conn.status());
  std::cerr << (backup.incremental ? "Incremental" : "Full") << " backup of " << domain << " into "
            << backup.dir << ":\n";
  StatusOr<libvirt::BackupRecord> record = libvirt::BackupDomain(conn->get(), domain, backup);
  if (!record.ok()) return Fail(record.status());
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
  return kExitOk;
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
  if (!ParseArgs(args, kRestoreUsage, options, nullptr, &vm, &code)) return code;
  libvirt::RestoreOptions restore;
  restore.dir = Text(vm, "from");
  restore.backup = Text(vm, "backup");
  restore.disk = Text(vm, "disk");
  restore.format = Text(vm, "format");
  const std::string to = Text(vm, "to");
  if (restore.dir.empty()) return Fail(Status::InvalidArgument("--from DIR is required"));
  if (restore.disk.empty()) return Fail(Status::InvalidArgument("--disk TARGET is required"));
  const std::size_t slash = to.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == to.size() ||
      to.find('/', slash + 1) != std::string::npos)
    return Fail(Status::InvalidArgument("--to must be POOL/VOLUME, not '" + to + "'"));
  restore.pool = to.substr(0, slash);
  restore.volume = to.substr(slash + 1);
  if (!TimeoutFrom(vm, &restore.deadline)) return kExitError;

  StatusOr<libvirt::Connection> conn = Connect(vm);
  if (!conn.ok()) return Fail(conn.status());
  StatusOr<libvirt::RestoreResult> result = libvirt::RestoreVolume(conn->get(), restore);
  if (!result.ok()) return Fail(result.status());
  std::printf("Restored disk %s of backup %s into volume %s (%s, %s) in %.2f s.\n",
              restore.disk.c_str(), result->backup.c_str(), to.c_str(), result->format.c_str(),
              Bytes(result->virtual_size).c_str(), result->seconds);
  std::printf("  path: %s\n", result->volume_path.c_str());
  for (const std::string& image : result->chain) std::printf("  from: %s\n", image.c_str());
  return kExitOk;
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
