#include "providers/libvirt/backup.h"

#include <libvirt/virterror.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <pugixml.hpp>
#include <sstream>
#include <thread>

#include "engine/json_reader.h"
#include "engine/utc_time.h"
#include "providers/libvirt/libvirt_error.h"
#include "providers/libvirt/libvirt_handles.h"
#include "providers/libvirt/process.h"
#include "providers/libvirt/xml_util.h"

namespace vc::libvirt {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kAbortGrace{60};  // how long an aborted job may take to end
constexpr int kManifestVersion = 1;

struct CheckpointDeleter {
  void operator()(virDomainCheckpointPtr p) const noexcept { virDomainCheckpointFree(p); }
};
using Checkpoint = std::unique_ptr<virDomainCheckpoint, CheckpointDeleter>;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Status Failed(const std::string& message) {
  return Status::FailedPrecondition(message).WithErrorCode(ErrorCode::kOperationFailed);
}

// The calling thread's libvirt error: not found, a lost connection and a timeout keep their
// codes, anything else is the daemon refusing or failing the operation.
Status BackupError(const std::string& context) {
  Status s = LastError(context);
  switch (s.error_code()) {
    case ErrorCode::kNotFound:
    case ErrorCode::kConnectionLost:
    case ErrorCode::kTimeout:
    case ErrorCode::kUnsupported:
      return s;
    default:
      return s.WithErrorCode(ErrorCode::kOperationFailed);
  }
}

// Owns a typed-parameter list libvirt allocated (virDomainGetJobStats).
class JobStats {
 public:
  JobStats() = default;
  JobStats(const JobStats&) = delete;
  JobStats& operator=(const JobStats&) = delete;
  ~JobStats() { virTypedParamsFree(params_, count_); }
  virTypedParameterPtr* out_params() { return &params_; }
  int* out_size() { return &count_; }
  std::optional<std::uint64_t> ULLong(const char* name) const {
    unsigned long long value = 0;
    if (virTypedParamsGetULLong(params_, count_, name, &value) != 1) return std::nullopt;
    return value;
  }
  std::string String(const char* name) const {
    const char* value = nullptr;
    if (virTypedParamsGetString(params_, count_, name, &value) != 1 || value == nullptr) return "";
    return value;
  }

 private:
  virTypedParameterPtr params_ = nullptr;
  int count_ = 0;
};

// Refuses a connection to another machine: the backup directory, the manifest and qemu-img are
// on this one.
Status RequireLocal(virConnectPtr conn) {
  CString uri(virConnectGetURI(conn));
  if (!uri) return BackupError("reading the connection's URI");
  const std::string text = uri.get();
  const std::size_t scheme = text.find("://");
  if (scheme == std::string::npos) return Status::Ok();
  const std::size_t host_start = scheme + 3;
  std::string host = text.substr(host_start, text.find('/', host_start) - host_start);
  if (const std::size_t at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
  if (host.empty() || host == "localhost" || host == "127.0.0.1" || host == "[::1]")
    return Status::Ok();
  return Status::Unsupported(
      "backups need a local connection (the directory and qemu-img are "
      "on this machine), not " +
      text);
}

// ---------------------------------------------------------------- the manifest

Json DiskToJson(const BackupDisk& d) {
  return {{"target", d.target},
          {"file", d.file},
          {"mode", d.mode},
          {"checkpoint", d.checkpoint},
          {"virtual_size", d.virtual_size},
          {"file_size", d.file_size}};
}

Json RecordToJson(const BackupRecord& r) {
  Json disks = Json::array();
  for (const BackupDisk& d : r.disks) disks.push_back(DiskToJson(d));
  Json out = {{"name", r.name},
              {"kind", r.kind},
              {"started", r.started},
              {"completed", r.completed},
              {"checkpoint", r.checkpoint.empty() ? Json(nullptr) : Json(r.checkpoint)},
              {"parent", r.parent.empty() ? Json(nullptr) : Json(r.parent)},
              {"parent_checkpoint",
               r.parent_checkpoint.empty() ? Json(nullptr) : Json(r.parent_checkpoint)},
              {"processed", r.processed ? Json(*r.processed) : Json(nullptr)},
              {"seconds", r.seconds},
              {"disks", disks}};
  return out;
}

Json ManifestToJson(const BackupManifest& m) {
  Json backups = Json::array();
  for (const BackupRecord& r : m.backups) backups.push_back(RecordToJson(r));
  return {{"format_version", m.format_version},
          {"domain", m.domain},
          {"domain_uuid", m.domain_uuid},
          {"backups", backups}};
}

std::string OptionalText(const Json& j, const char* key) {
  const Json& v = j.at(key);
  return v.is_null() ? std::string() : v.get<std::string>();
}

BackupManifest ManifestFromJson(const Json& j) {  // throws Json::exception
  BackupManifest m;
  m.format_version = j.at("format_version").get<int>();
  m.domain = j.at("domain").get<std::string>();
  m.domain_uuid = j.at("domain_uuid").get<std::string>();
  for (const Json& b : j.at("backups")) {
    BackupRecord r;
    r.name = b.at("name").get<std::string>();
    r.kind = b.at("kind").get<std::string>();
    r.started = b.at("started").get<std::string>();
    r.completed = b.at("completed").get<std::string>();
    r.checkpoint = OptionalText(b, "checkpoint");
    r.parent = OptionalText(b, "parent");
    r.parent_checkpoint = OptionalText(b, "parent_checkpoint");
    if (!b.at("processed").is_null()) r.processed = b.at("processed").get<std::uint64_t>();
    r.seconds = b.at("seconds").get<double>();
    for (const Json& d : b.at("disks")) {
      BackupDisk disk;
      disk.target = d.at("target").get<std::string>();
      disk.file = d.at("file").get<std::string>();
      disk.mode = d.at("mode").get<std::string>();
      disk.checkpoint = d.at("checkpoint").get<bool>();
      disk.virtual_size = d.at("virtual_size").get<std::uint64_t>();
      disk.file_size = d.at("file_size").get<std::uint64_t>();
      if (disk.file.empty() || disk.file.find('/') != std::string::npos)
        throw std::invalid_argument("disk file '" + disk.file + "' is not a name in the directory");
      r.disks.push_back(disk);
    }
    m.backups.push_back(r);
  }
  return m;
}

Status WriteManifest(const std::string& dir, const BackupManifest& m) {
  const fs::path final_path = fs::path(dir) / kBackupManifest;
  const fs::path temp_path = fs::path(dir) / (std::string(kBackupManifest) + ".new");
  {
    std::ofstream out(temp_path, std::ios::trunc);
    out << ManifestToJson(m).dump(2) << "\n";
    out.flush();
    if (!out) return Failed("cannot write " + temp_path.string());
  }
  std::error_code ec;
  fs::rename(temp_path, final_path, ec);
  if (ec) return Failed("cannot write " + final_path.string() + ": " + ec.message());
  return Status::Ok();
}

// Makes `dir` if it is missing (not its parents) and proves it writable by creating a file.
Status PrepareDirectory(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (!fs::create_directory(dir, ec) || ec)
      return Failed("backup directory " + dir + " cannot be made: " + ec.message());
    // QEMU (another user, as a rule) opens the files: it must be able to reach them, not list.
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec,
                    fs::perm_options::replace, ec);
  } else if (!fs::is_directory(dir, ec)) {
    return Failed("backup directory " + dir + " is not a directory");
  }
  const std::string probe = (fs::path(dir) / ".virtconverge-write-test").string();
  std::ofstream out(probe);
  out << "x";
  out.close();
  if (!out) return Failed("backup directory " + dir + " is not writable");
  fs::remove(probe, ec);
  return Status::Ok();
}

// ---------------------------------------------------------------- the domain's disks

struct DomainDisk {
  std::string target;
  std::string format;     // the driver type: "qcow2", "raw"
  bool included = false;  // backed up (a disk, not read-only)
  bool bitmap = false;    // can carry a checkpoint (qcow2)
  std::uint64_t virtual_size = 0;
};

StatusOr<std::vector<DomainDisk>> DomainDisks(virDomainPtr domain, const std::string& name) {
  CString xml(virDomainGetXMLDesc(domain, 0));
  if (!xml) return BackupError("reading domain " + name);
  pugi::xml_document doc;
  if (!doc.load_string(xml.get()))
    return Status::Internal("the XML of domain " + name + " is not XML")
        .WithErrorCode(ErrorCode::kInternal);
  std::vector<DomainDisk> disks;
  for (pugi::xml_node d : doc.document_element().child("devices").children("disk")) {
    DomainDisk disk;
    disk.target = d.child("target").attribute("dev").value();
    disk.format = d.child("driver").attribute("type").value();
    const std::string device = d.attribute("device").as_string("disk");
    const std::string type = d.attribute("type").value();
    if (disk.target.empty()) continue;
    if (device == "disk" && !d.child("readonly")) {
      // An RBD image is read through QEMU like any other disk, but cannot carry a dirty bitmap
      // (QEMU keeps persistent bitmaps in qcow2 files only): it is copied in full every time.
      // Other network protocols are untested here, so refused.
      const std::string protocol = d.child("source").attribute("protocol").value();
      if (type == "network" && protocol != "rbd") {
        return Status::Unsupported("disk " + disk.target + " of domain " + name +
                                   " is a network disk of protocol '" + protocol +
                                   "': of network disks, backups support RBD only");
      }
      if (type != "file" && type != "volume" && type != "block" && type != "network") {
        return Status::Unsupported("disk " + disk.target + " of domain " + name + " has type '" +
                                   type + "', which backups do not support");
      }
      disk.included = true;
      disk.bitmap = disk.format == "qcow2" && type != "network";
      virDomainBlockInfo info{};
      if (virDomainGetBlockInfo(domain, disk.target.c_str(), &info, 0) < 0)
        return BackupError("reading the size of disk " + disk.target);
      disk.virtual_size = info.capacity;
    }
    disks.push_back(disk);
  }
  return disks;
}

std::string DiskFile(const std::string& backup, const std::string& target) {
  return backup + "." + target + ".qcow2";
}

// <domainbackup mode='push'>: every included disk to its new file, the rest not backed up. In an
// incremental backup, disks the previous checkpoint did not track are copied in full.
std::string BackupXml(const std::string& dir, const BackupRecord& record,
                      const std::vector<DomainDisk>& disks) {
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("domainbackup");
  root.append_attribute("mode") = "push";
  if (record.kind == "incremental")
    root.append_child("incremental").text() = record.parent_checkpoint.c_str();
  pugi::xml_node list = root.append_child("disks");
  for (const DomainDisk& d : disks) {
    pugi::xml_node disk = list.append_child("disk");
    disk.append_attribute("name") = d.target.c_str();
    if (!d.included) {
      disk.append_attribute("backup") = "no";
      continue;
    }
    disk.append_attribute("backup") = "yes";
    disk.append_attribute("type") = "file";
    for (const BackupDisk& b : record.disks) {
      if (b.target != d.target) continue;
      if (record.kind == "incremental")
        disk.append_attribute("backupmode") = b.mode == "full" ? "full" : "incremental";
      disk.append_child("target").append_attribute("file") =
          (fs::path(dir) / b.file).string().c_str();
    }
    disk.append_child("driver").append_attribute("type") = "qcow2";
  }
  return ToString(doc);
}

// <domaincheckpoint>: a bitmap in each qcow2 disk, none elsewhere.
std::string CheckpointXml(const std::string& dir, const BackupRecord& record,
                          const std::vector<DomainDisk>& disks) {
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("domaincheckpoint");
  root.append_child("name").text() = record.checkpoint.c_str();
  root.append_child("description").text() =
      ("virtconverge backup " + record.name + " in " + dir).c_str();
  pugi::xml_node list = root.append_child("disks");
  for (const DomainDisk& d : disks) {
    pugi::xml_node disk = list.append_child("disk");
    disk.append_attribute("name") = d.target.c_str();
    disk.append_attribute("checkpoint") = d.included && d.bitmap ? "bitmap" : "no";
  }
  return ToString(doc);
}

bool CheckpointExists(virDomainPtr domain, const std::string& name) {
  Checkpoint cp(virDomainCheckpointLookupByName(domain, name.c_str(), 0));
  return cp != nullptr;
}

// Undoes a backup that did not finish: its checkpoint (the bitmap merges into the parent's) and
// its files. Best effort: what cannot be undone is named in the returned text.
std::string Undo(virDomainPtr domain, const std::string& dir, const BackupRecord& record) {
  std::string left;
  if (!record.checkpoint.empty()) {
    Checkpoint cp(virDomainCheckpointLookupByName(domain, record.checkpoint.c_str(), 0));
    if (cp && virDomainCheckpointDelete(cp.get(), 0) < 0)
      left += "; checkpoint " + record.checkpoint +
              " could not be deleted: " + LastError("delete").message();
  }
  for (const BackupDisk& d : record.disks) {
    std::error_code ec;
    fs::remove(fs::path(dir) / d.file, ec);
  }
  return left;
}

BackupProgress ReadProgress(const JobStats& stats, Clock::time_point start) {
  BackupProgress p;
  p.processed = stats.ULLong(VIR_DOMAIN_JOB_DISK_PROCESSED);
  p.total = stats.ULLong(VIR_DOMAIN_JOB_DISK_TOTAL);
  if (!p.processed) p.processed = stats.ULLong(VIR_DOMAIN_JOB_DATA_PROCESSED);
  if (!p.total) p.total = stats.ULLong(VIR_DOMAIN_JOB_DATA_TOTAL);
  p.elapsed_seconds = SecondsSince(start);
  return p;
}

// Waits for the domain's backup job to end: samples it for progress, aborts it at the deadline.
// Ok when libvirt reports it completed; `processed` is then the bytes it copied.
Status WaitForJob(virDomainPtr domain, const BackupOptions& options, Clock::time_point start,
                  std::optional<std::uint64_t>* processed) {
  bool aborted = false;
  std::string abort_error;
  while (true) {
    JobStats stats;
    int type = VIR_DOMAIN_JOB_NONE;
    if (virDomainGetJobStats(domain, &type, stats.out_params(), stats.out_size(), 0) < 0)
      return BackupError("reading the backup job");
    if (type == VIR_DOMAIN_JOB_NONE) break;
    if (options.progress) options.progress(ReadProgress(stats, start));
    const auto elapsed = Clock::now() - start;
    if (elapsed >= options.deadline && !aborted) {
      aborted = true;
      if (virDomainAbortJob(domain) < 0) abort_error = LastError("aborting the job").message();
    }
    if (aborted && elapsed >= options.deadline + kAbortGrace) {
      return Status::Unavailable("the backup job did not end within " +
                                 std::to_string(kAbortGrace.count()) +
                                 " s of being aborted at its deadline" +
                                 (abort_error.empty() ? "" : " (" + abort_error + ")"))
          .WithErrorCode(ErrorCode::kTimeout);
    }
    std::this_thread::sleep_for(options.poll_interval);
  }
  if (aborted) {
    return Status::Unavailable("the backup did not finish within " +
                               std::to_string(options.deadline.count()) + " s; it was aborted")
        .WithErrorCode(ErrorCode::kTimeout);
  }
  JobStats done;
  int type = VIR_DOMAIN_JOB_NONE;
  if (virDomainGetJobStats(domain, &type, done.out_params(), done.out_size(),
                           VIR_DOMAIN_JOB_STATS_COMPLETED) < 0)
    return BackupError("reading how the backup job ended");
  switch (type) {
    case VIR_DOMAIN_JOB_COMPLETED: {
      BackupProgress last = ReadProgress(done, start);
      *processed = last.processed;
      if (options.progress) options.progress(last);
      return Status::Ok();
    }
    case VIR_DOMAIN_JOB_CANCELLED:
      return Failed("the backup job was cancelled (by someone else: virsh domjobabort?)");
    default: {
      std::string why = done.String(VIR_DOMAIN_JOB_ERRMSG);
      return Failed("the backup job failed: " + (why.empty() ? "libvirt gave no reason" : why));
    }
  }
}

// The checks a backup makes before it touches anything: the manifest of `dir` (empty when
// there is none) belongs to this domain, and an incremental backup has a checkpoint to start
// from. Fills `record` with its name, kind, checkpoint and parent.
StatusOr<BackupManifest> PlanBackup(virDomainPtr domain, const std::string& name,
                                    const std::string& uuid, const BackupOptions& options,
                                    BackupRecord* record) {
  BackupManifest manifest;
  StatusOr<BackupManifest> existing = ReadBackupManifest(options.dir);
  if (existing.ok()) {
    manifest = *existing;
    if (manifest.domain_uuid != uuid)
      return Failed("backup directory " + options.dir + " holds backups of domain " +
                    manifest.domain + " (" + manifest.domain_uuid + "), not of " + name);
  } else if (existing.status().code() != Status::Code::kNotFound) {
    return existing.status();
  } else {
    manifest.domain = name;
    manifest.domain_uuid = uuid;
  }
  const std::string stamp = FormatUtc(std::time(nullptr), "%Y%m%dT%H%M%SZ");
  record->kind = options.incremental ? "incremental" : "full";
  record->name = (options.incremental ? "inc-" : "full-") + stamp;
  for (int n = 2; true; ++n) {
    bool taken = CheckpointExists(domain, "vc-" + record->name);
    for (const BackupRecord& r : manifest.backups) taken = taken || r.name == record->name;
    if (!taken) break;
    record->name = (options.incremental ? "inc-" : "full-") + stamp + "-" + std::to_string(n);
  }
  record->checkpoint = "vc-" + record->name;
  record->started = Rfc3339UtcNow();
  if (options.incremental) {
    if (manifest.backups.empty())
      return Failed("--incremental: backup directory " + options.dir + " holds no backup of " +
                    name + " to build on; take a full backup first");
    const BackupRecord& last = manifest.backups.back();
    if (last.checkpoint.empty())
      return Failed("--incremental: the last backup in " + options.dir + " (" + last.name +
                    ") has no checkpoint (no qcow2 disk); take a full backup");
    if (!CheckpointExists(domain, last.checkpoint))
      return Failed("--incremental: checkpoint " + last.checkpoint + " of the last backup (" +
                    last.name + ") no longer exists on domain " + name + "; take a full backup");
    record->parent = last.name;
    record->parent_checkpoint = last.checkpoint;
  }
  return manifest;
}

}  // namespace

StatusOr<BackupManifest> ReadBackupManifest(const std::string& dir) {
  const fs::path path = fs::path(dir) / kBackupManifest;
  std::ifstream in(path);
  if (!in) return Status::NotFound("no backup manifest in " + dir + " (" + path.string() + ")");
  std::stringstream text;
  text << in.rdbuf();
  StatusOr<Json> json = ReadStrictJson(text.str());
  if (!json.ok()) return json.status().WithContext(path.string());
  try {
    BackupManifest m = ManifestFromJson(*json);
    if (m.format_version != kManifestVersion)
      return Status::InvalidArgument(path.string() + ": format_version " +
                                     std::to_string(m.format_version) + " is not supported");
    return m;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(path.string() + ": not a backup manifest: " + e.what());
  }
}

namespace {

StatusOr<BackupRecord> BackupInto(virConnectPtr conn, const std::string& name,
                                  const BackupOptions& options) {
  if (Status local = RequireLocal(conn); !local.ok()) return local;
  Domain domain(virDomainLookupByName(conn, name.c_str()));
  if (!domain) return BackupError("domain " + name);
  const int active = virDomainIsActive(domain.get());
  if (active < 0) return BackupError("domain " + name);
  if (active == 0)
    return Failed("domain " + name + " is not running: backups are taken of a running guest");
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(domain.get(), uuid) < 0) return BackupError("domain " + name);

  StatusOr<std::vector<DomainDisk>> disks = DomainDisks(domain.get(), name);
  if (!disks.ok()) return disks.status();
  BackupRecord record;
  StatusOr<BackupManifest> manifest = PlanBackup(domain.get(), name, uuid, options, &record);
  if (!manifest.ok()) return manifest.status();
  const BackupRecord* parent = manifest->backups.empty() ? nullptr : &manifest->backups.back();
  bool any_bitmap = false;
  for (const DomainDisk& d : *disks) {
    if (!d.included) continue;
    BackupDisk b;
    b.target = d.target;
    b.file = DiskFile(record.name, d.target);
    b.checkpoint = d.bitmap;
    b.virtual_size = d.virtual_size;
    b.mode = "full";
    if (options.incremental) {
      for (const BackupDisk& p : parent->disks)
        if (p.target == d.target && p.checkpoint && d.bitmap) b.mode = "incremental";
    }
    any_bitmap = any_bitmap || d.bitmap;
    record.disks.push_back(b);
  }
  if (record.disks.empty())
    return Failed("domain " + name + " has no disk to back up (file, volume, block or network)");
  if (!any_bitmap) record.checkpoint.clear();
  if (Status dir = PrepareDirectory(options.dir); !dir.ok()) return dir;
  for (const BackupDisk& d : record.disks) {
    if (fs::exists(fs::path(options.dir) / d.file))
      return Failed("backup file " + (fs::path(options.dir) / d.file).string() + " exists already");
  }

  const std::string backup_xml = BackupXml(options.dir, record, *disks);
  const std::string checkpoint_xml =
      record.checkpoint.empty() ? std::string() : CheckpointXml(options.dir, record, *disks);
  const Clock::time_point start = Clock::now();
  if (virDomainBackupBegin(domain.get(), backup_xml.c_str(),
                           checkpoint_xml.empty() ? nullptr : checkpoint_xml.c_str(), 0) < 0) {
    Status s = BackupError("starting the backup of domain " + name);
    for (const BackupDisk& d : record.disks) {  // libvirt may have made the files
      std::error_code ec;
      fs::remove(fs::path(options.dir) / d.file, ec);
    }
    if (s.message().find("qcow2 v2") != std::string::npos)
      return s.WithContext(
          "a checkpoint needs qcow2 v3 disks (compat 1.1): upgrade the image with `qemu-img "
          "amend -f qcow2 -o compat=1.1 IMAGE` while the domain is stopped");
    if (s.message().find("Permission denied") != std::string::npos)
      return s.WithContext("QEMU (it runs as another user, as a rule) cannot create files in " +
                           options.dir + ": it needs search permission on it and its parents");
    return s;
  }
  Status waited = WaitForJob(domain.get(), options, start, &record.processed);
  record.seconds = SecondsSince(start);
  if (!waited.ok()) {
    if (waited.error_code() == ErrorCode::kConnectionLost) return waited;  // cannot undo
    std::string left = Undo(domain.get(), options.dir, record);
    return left.empty() ? waited : waited.WithContext("backup" + left);
  }
  record.completed = Rfc3339UtcNow();
  for (BackupDisk& d : record.disks) {
    std::error_code ec;
    d.file_size = fs::file_size(fs::path(options.dir) / d.file, ec);
    if (ec) {
      std::string left = Undo(domain.get(), options.dir, record);
      return Failed("the backup job ended but " + d.file + " is missing" + left);
    }
  }
  manifest->backups.push_back(record);
  if (Status written = WriteManifest(options.dir, *manifest); !written.ok()) {
    std::string left = Undo(domain.get(), options.dir, record);
    return left.empty() ? written : written.WithContext("backup" + left);
  }
  return record;
}

}  // namespace

StatusOr<BackupRecord> BackupDomain(virConnectPtr conn, const std::string& name,
                                    const BackupOptions& given) {
  BackupOptions options = given;  // libvirt reads the paths in its own working directory
  std::error_code ec;
  options.dir = fs::absolute(given.dir, ec).lexically_normal().string();
  if (ec) return Failed("backup directory " + given.dir + ": " + ec.message());
  const bool existed = fs::exists(options.dir, ec);
  StatusOr<BackupRecord> record = BackupInto(conn, name, options);
  if (!record.ok() && !existed) fs::remove(options.dir, ec);  // made here, empty: removed
  return record;
}

// ---------------------------------------------------------------- restore

namespace {

// The images holding `disk` as of `backup`: newest first, down to a full one.
StatusOr<std::vector<const BackupDisk*>> Chain(const BackupManifest& m, const std::string& dir,
                                               const std::string& backup, const std::string& disk) {
  std::vector<const BackupDisk*> chain;
  std::string wanted = backup;
  while (true) {
    const BackupRecord* record = nullptr;
    for (const BackupRecord& r : m.backups)
      if (r.name == wanted) record = &r;
    if (record == nullptr)
      return Status::NotFound("backup " + wanted + " is not in " + dir +
                              (chain.empty() ? "" : " (a backup the chain needs)"));
    const BackupDisk* d = nullptr;
    for (const BackupDisk& x : record->disks)
      if (x.target == disk) d = &x;
    if (d == nullptr) return Status::NotFound("backup " + wanted + " has no disk " + disk);
    std::error_code ec;
    if (!fs::is_regular_file(fs::path(dir) / d->file, ec))
      return Status::NotFound("backup image " + (fs::path(dir) / d->file).string() + " is missing");
    chain.push_back(d);
    if (d->mode == "full") return chain;
    if (record->parent.empty() || chain.size() > m.backups.size())
      return Failed("backup " + wanted + " is incremental but names no parent backup");
    wanted = record->parent;
  }
}

// The chain as one qemu block-layer JSON description: each image's backing set to the next
// (never to what its own header names: an incremental image's header names the live disk),
// the full one with none.
Json ChainImage(const std::string& dir, const std::vector<const BackupDisk*>& chain) {
  Json image = nullptr;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    Json layer = {
        {"driver", "qcow2"},
        {"file", {{"driver", "file"}, {"filename", (fs::path(dir) / (*it)->file).string()}}},
        {"backing", image}};
    image = layer;
  }
  return image;
}

std::string PoolType(virStoragePoolPtr pool) {
  CString xml(virStoragePoolGetXMLDesc(pool, 0));
  if (!xml) return "";
  pugi::xml_document doc;
  if (!doc.load_string(xml.get())) return "";
  return doc.document_element().attribute("type").value();
}

}  // namespace

StatusOr<RestoreResult> RestoreVolume(virConnectPtr conn, const RestoreOptions& given) {
  RestoreOptions options = given;
  std::error_code path_error;
  options.dir = fs::absolute(given.dir, path_error).lexically_normal().string();
  if (path_error) return Failed("backup directory " + given.dir + ": " + path_error.message());
  if (Status local = RequireLocal(conn); !local.ok()) return local;
  StatusOr<BackupManifest> manifest = ReadBackupManifest(options.dir);
  if (!manifest.ok()) return manifest.status();
  if (manifest->backups.empty())
    return Status::NotFound("backup directory " + options.dir + " holds no backup");
  RestoreResult result;
  result.backup = options.backup.empty() ? manifest->backups.back().name : options.backup;
  StatusOr<std::vector<const BackupDisk*>> chain =
      Chain(*manifest, options.dir, result.backup, options.disk);
  if (!chain.ok()) return chain.status();
  for (const BackupDisk* d : *chain)
    result.chain.push_back((fs::path(options.dir) / d->file).string());
  result.virtual_size = chain->front()->virtual_size;

  const std::string address = options.pool + "/" + options.volume;
  Pool pool(virStoragePoolLookupByName(conn, options.pool.c_str()));
  if (!pool) return BackupError("pool " + options.pool);
  if (virStoragePoolIsActive(pool.get()) != 1)
    return Failed("pool " + options.pool + " is not active");
  const std::string type = PoolType(pool.get());
  if (type != "dir" && type != "fs" && type != "netfs" && type != "logical")
    return Status::Unsupported("restore writes into dir, fs, netfs and logical pools; pool " +
                               options.pool + " is of type '" + type + "'");
  // A volume made by someone else since the pool was last read must count too.
  if (virStoragePoolRefresh(pool.get(), 0) < 0)
    return BackupError("refreshing pool " + options.pool);
  if (Volume existing(virStorageVolLookupByName(pool.get(), options.volume.c_str())); existing)
    return Failed("volume " + address + " exists; restore never overwrites a volume");
  result.format = options.format.empty() ? (type == "logical" ? "raw" : "qcow2") : options.format;
  if (result.format != "qcow2" && result.format != "raw")
    return Status::InvalidArgument("format must be qcow2 or raw, not " + result.format);
  if (type == "logical" && result.format != "raw")
    return Status::InvalidArgument("a logical pool's volumes are raw");

  pugi::xml_document doc;
  pugi::xml_node vol = doc.append_child("volume");
  vol.append_child("name").text() = options.volume.c_str();
  pugi::xml_node capacity = vol.append_child("capacity");
  capacity.append_attribute("unit") = "bytes";
  capacity.text() = std::to_string(result.virtual_size).c_str();
  if (type != "logical") {
    pugi::xml_node allocation = vol.append_child("allocation");
    allocation.append_attribute("unit") = "bytes";
    allocation.text() = "0";
    pugi::xml_node target = vol.append_child("target");
    target.append_child("format").append_attribute("type") = result.format.c_str();
    if (result.format == "qcow2") target.append_child("compat").text() = "1.1";
  }
  const Clock::time_point start = Clock::now();
  Volume created(virStorageVolCreateXML(pool.get(), ToString(doc).c_str(), 0));
  if (!created) return BackupError("creating volume " + address);
  auto remove_volume = [&](const Status& why) -> Status {
    if (virStorageVolDelete(created.get(), 0) < 0)
      return why.WithContext("restore (and volume " + address +
                             " could not be deleted: " + LastError("delete").message() + ")");
    return why;
  };
  CString path(virStorageVolGetPath(created.get()));
  if (!path) return remove_volume(BackupError("reading the path of volume " + address));
  result.volume_path = path.get();

  const std::vector<std::string> argv = {"qemu-img",
                                         "convert",
                                         "-n",
                                         "-O",
                                         result.format,
                                         "json:" + ChainImage(options.dir, *chain).dump(),
                                         result.volume_path};
  StatusOr<ProcessResult> ran = RunProcess(argv, options.deadline);
  if (!ran.ok()) return remove_volume(ran.status().WithContext("restore"));
  if (ran->exit_code != 0)
    return remove_volume(Failed("qemu-img convert failed (exit " + std::to_string(ran->exit_code) +
                                "): " + ran->output));
  virStoragePoolRefresh(pool.get(), 0);  // the pool's allocation figures; not needed otherwise
  result.seconds = SecondsSince(start);
  return result;
}

Json BackupRecordToJson(const BackupRecord& record) { return RecordToJson(record); }

}  // namespace vc::libvirt
