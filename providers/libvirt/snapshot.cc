#include "providers/libvirt/snapshot.h"

#include <libvirt/virterror.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "engine/error_code.h"
#include "engine/names.h"
#include "engine/utc_time.h"
#include "providers/libvirt/libvirt_error.h"
#include "providers/libvirt/libvirt_handles.h"
#include "providers/libvirt/process.h"

namespace vc::libvirt {
namespace {

using Clock = std::chrono::steady_clock;

// A block commit copies what the overlay holds; a long one is a big overlay, not a hang.
constexpr auto kCommitDeadline = std::chrono::minutes(30);
constexpr auto kCommitPoll = std::chrono::milliseconds(50);
constexpr auto kQemuImgDeadline = std::chrono::minutes(30);

using Layer = SnapshotLayer;
using Record = SnapshotRecord;

std::string_view LocalName(const char* qualified) {
  std::string_view name(qualified);
  const std::size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

// The domain's name, for messages. virDomainGetName resets the thread's last libvirt error, so
// it is asked before the call whose failure a message reports, never inside LastError's argument.
std::string Name(virDomainPtr domain) {
  const char* name = virDomainGetName(domain);
  return name == nullptr ? "?" : name;
}

StatusOr<std::vector<Record>> ReadRecords(virDomainPtr domain) {
  const std::string name = Name(domain);
  char* raw = virDomainGetMetadata(domain, VIR_DOMAIN_METADATA_ELEMENT, kSnapshotNamespace,
                                   VIR_DOMAIN_AFFECT_CONFIG);
  if (raw == nullptr) {
    virErrorPtr error = virGetLastError();
    if (error != nullptr && error->code == VIR_ERR_NO_DOMAIN_METADATA) return std::vector<Record>{};
    return LastError("reading the snapshot record of domain " + name);
  }
  const std::string xml = AdoptString(raw);
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) {
    return Status::Internal("the snapshot record of domain " + name + " is not XML");
  }
  StatusOr<std::vector<Record>> records = ParseSnapshotRecords(doc.document_element());
  if (!records.ok()) return records.status().WithContext("the snapshot record of domain " + name);
  return records;
}

// The domain's state is asked here, not taken from the caller: a block commit before this may
// have run for minutes, and the guest may have stopped meanwhile.
Status WriteRecords(virDomainPtr domain, const std::vector<Record>& records) {
  const std::string name = Name(domain);
  const int state = virDomainIsActive(domain);
  if (state < 0) return LastError("reading the state of domain " + name);
  const bool active = state == 1;
  const unsigned flags = static_cast<unsigned>(VIR_DOMAIN_AFFECT_CONFIG) |
                         (active ? static_cast<unsigned>(VIR_DOMAIN_AFFECT_LIVE) : 0U);
  if (records.empty()) {
    if (virDomainSetMetadata(domain, VIR_DOMAIN_METADATA_ELEMENT, nullptr, nullptr,
                             kSnapshotNamespace, flags) < 0) {
      return LastError("removing the snapshot record of domain " + name);
    }
    return Status::Ok();
  }
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("snapshots");
  for (const Record& r : records) {
    pugi::xml_node s = root.append_child("snapshot");
    s.append_attribute("name") = r.name.c_str();
    s.append_attribute("consistency") = r.consistency.c_str();
    s.append_attribute("created") = r.created.c_str();
    for (const Layer& l : r.disks) {
      pugi::xml_node d = s.append_child("disk");
      d.append_attribute("target") = l.target.c_str();
      if (!l.rbd.empty()) {
        d.append_attribute("rbd") = l.rbd.c_str();
        continue;
      }
      d.append_attribute("overlay") = l.overlay.c_str();
      d.append_attribute("backing") = l.backing.c_str();
      d.append_attribute("format") = l.format.c_str();
    }
  }
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw | pugi::format_no_declaration);
  if (virDomainSetMetadata(domain, VIR_DOMAIN_METADATA_ELEMENT, out.str().c_str(), "vcsnap",
                           kSnapshotNamespace, flags) < 0) {
    return LastError("recording the snapshots of domain " + name);
  }
  return Status::Ok();
}

StatusOr<pugi::xml_document> DomainXml(virDomainPtr domain, unsigned flags) {
  const std::string name = Name(domain);
  CString xml(virDomainGetXMLDesc(domain, flags));
  if (!xml) return LastError("reading domain " + name);
  pugi::xml_document doc;
  if (!doc.load_string(xml.get())) {
    return Status::Internal("the XML of domain " + name + " is not XML");
  }
  return doc;
}

// The file a disk element reads: its file, or the path of its volume.
StatusOr<std::string> DiskFile(virConnectPtr conn, const pugi::xml_node& disk,
                               const std::string& domain) {
  const std::string type = disk.attribute("type").as_string();
  const std::string target = disk.child("target").attribute("dev").as_string();
  pugi::xml_node source = disk.child("source");
  if (type == "file") return std::string(source.attribute("file").as_string());
  if (type == "volume") {
    Pool pool(virStoragePoolLookupByName(conn, source.attribute("pool").as_string()));
    if (!pool) return LastError("finding the pool of disk " + target + " of domain " + domain);
    Volume volume(virStorageVolLookupByName(pool.get(), source.attribute("volume").as_string()));
    if (!volume) return LastError("finding the volume of disk " + target + " of domain " + domain);
    std::string path = AdoptString(virStorageVolGetPath(volume.get()));
    if (path.empty()) return LastError("reading the path of disk " + target);
    return path;
  }
  return Status::Unsupported("disk " + target + " of domain " + domain + " has type '" + type +
                             "': snapshots cover file and volume disks (and RBD images)");
}

// "/pool/root@s1", "s2" -> "/pool/root@s2": every overlay of a disk is named after the volume at
// the bottom of its chain (names never hold '@', so the volume is always recognisable).
std::string OverlayPath(const std::string& current, const std::string& snapshot) {
  const std::size_t slash = current.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : current.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? current : current.substr(slash + 1);
  base = base.substr(0, base.find('@'));
  return dir + base + "@" + snapshot;
}

Status RunQemuImg(const std::vector<std::string>& argv, const std::string& what) {
  StatusOr<ProcessResult> ran = RunProcess(argv, kQemuImgDeadline);
  if (!ran.ok()) return ran.status().WithContext(what);
  if (ran->exit_code != 0) {
    return Status::Internal(what + ": qemu-img failed (exit " + std::to_string(ran->exit_code) +
                            "): " + ran->output);
  }
  return Status::Ok();
}

Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::Internal("removing " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

// The persistent definition's disk `target` reading `file` directly (its chain found again by
// libvirt at the next start).
Status SetDiskFile(virDomainPtr domain, const std::string& target, const std::string& file) {
  const std::string name = Name(domain);
  StatusOr<pugi::xml_document> doc =
      DomainXml(domain, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
  if (!doc.ok()) return doc.status();
  bool found = false;
  for (pugi::xml_node disk : doc->document_element().child("devices").children("disk")) {
    if (target != disk.child("target").attribute("dev").as_string()) continue;
    found = true;
    disk.attribute("type").set_value("file");
    disk.remove_child("backingStore");
    disk.remove_child("source");
    pugi::xml_node driver = disk.child("driver");
    pugi::xml_node source =
        driver ? disk.insert_child_after("source", driver) : disk.prepend_child("source");
    source.append_attribute("file") = file.c_str();
  }
  if (!found) return Status::NotFound("domain " + name + " has no disk " + target);
  std::ostringstream out;
  doc->save(out, "", pugi::format_raw);
  Domain defined(virDomainDefineXML(virDomainGetConnect(domain), out.str().c_str()));
  if (!defined) return LastError("pointing disk " + target + " of domain " + name + " at " + file);
  return Status::Ok();
}

// Waits for the block commit of `target` to end; an active commit is pivoted onto its base.
Status WaitForCommit(virDomainPtr domain, const std::string& target, bool active) {
  const Clock::time_point deadline = Clock::now() + kCommitDeadline;
  while (Clock::now() < deadline) {
    virDomainBlockJobInfo info{};
    const int r = virDomainGetBlockJobInfo(domain, target.c_str(), &info, 0);
    if (r < 0) return LastError("following the block commit of " + target);
    if (r == 0) {
      if (!active) return Status::Ok();
      return Status::Internal("the block commit of " + target + " ended before its pivot");
    }
    if (active && info.end > 0 && info.cur == info.end &&
        virDomainBlockJobAbort(domain, target.c_str(), VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT) == 0) {
      return Status::Ok();
    }
    std::this_thread::sleep_for(kCommitPoll);
  }
  virDomainBlockJobAbort(domain, target.c_str(), 0);
  return Status::Unavailable(
             "the block commit of " + target + " of domain " + Name(domain) +
             " did not end within " +
             std::to_string(
                 std::chrono::duration_cast<std::chrono::minutes>(kCommitDeadline).count()) +
             " minutes: aborted, the snapshot is kept")
      .WithErrorCode(ErrorCode::kTimeout);
}

std::optional<std::size_t> Find(const std::vector<Record>& records, const std::string& name) {
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (records[i].name == name) return i;
  }
  return std::nullopt;
}

bool HasVolumeLayers(const Record& r) {
  for (const Layer& l : r.disks) {
    if (l.rbd.empty()) return true;
  }
  return false;
}

// What deleting or reverting a snapshot starts from: the domain's record, where the snapshot is
// in it (nullopt: not recorded), and whether the domain runs.
struct Recorded {
  std::string domain_name;
  std::vector<Record> records;
  std::optional<std::size_t> index;
  bool active = false;

  // The snapshot's overlay files would be rewritten by a process of this machine: refused when
  // the connection is not local (the files are another machine's).
  bool FilesElsewhere(bool local) const {
    return !local && index && HasVolumeLayers(records[*index]);
  }
};

StatusOr<Recorded> ReadRecorded(virDomainPtr domain, const std::string& snapshot) {
  Recorded r;
  r.domain_name = Name(domain);
  StatusOr<std::vector<Record>> records = ReadRecords(domain);
  if (!records.ok()) return records.status();
  r.records = std::move(*records);
  r.index = Find(r.records, snapshot);
  const int active = virDomainIsActive(domain);
  if (active < 0) return LastError("reading the state of domain " + r.domain_name);
  r.active = active == 1;
  return r;
}

}  // namespace

StatusOr<std::vector<SnapshotRecord>> ParseSnapshotRecords(const pugi::xml_node& root) {
  std::vector<Record> records;
  for (pugi::xml_node s : root.children()) {
    if (LocalName(s.name()) != "snapshot") continue;
    Record r{s.attribute("name").as_string(),
             s.attribute("consistency").as_string(),
             s.attribute("created").as_string(),
             {}};
    if (Status named = CheckName(r.name); !named.ok()) {
      return Status::InvalidArgument("snapshot name " + Quote(r.name) + ": " + named.message());
    }
    const std::string where = "snapshot " + r.name;
    for (pugi::xml_node d : s.children()) {
      if (LocalName(d.name()) != "disk") continue;
      Layer l{d.attribute("target").as_string(), d.attribute("overlay").as_string(),
              d.attribute("backing").as_string(), d.attribute("format").as_string(),
              d.attribute("rbd").as_string()};
      if (l.target.empty() || !CheckName(l.target).ok()) {
        return Status::InvalidArgument(where + ": a disk without a valid target");
      }
      const std::string disk = where + ", disk " + l.target;
      if (!l.rbd.empty()) {
        if (!CheckVolumeKey(l.rbd).ok()) {
          return Status::InvalidArgument(disk + ": rbd " + Quote(l.rbd) + " is not <pool>/<image>");
        }
      } else if (!l.backing.starts_with("/") ||
                 std::filesystem::path(l.backing).lexically_normal().string() != l.backing ||
                 (l.format != "qcow2" && l.format != "raw") ||
                 l.overlay != OverlayPath(l.backing, r.name)) {
        return Status::InvalidArgument(
            disk + ": overlay " + Quote(l.overlay) + " on " + Quote(l.backing) + " (format " +
            Quote(l.format) +
            ") is not what virtconverge records (a normal absolute path of a qcow2 or raw "
            "backing, the overlay beside it named <file>@" +
            r.name + ")");
      }
      r.disks.push_back(std::move(l));
    }
    records.push_back(std::move(r));
  }
  return records;
}

StatusOr<std::vector<std::string>> RecordedSnapshots(const pugi::xml_node& domain) {
  std::vector<std::string> names;
  for (pugi::xml_node child : domain.child("metadata").children()) {
    for (pugi::xml_attribute a : child.attributes()) {
      if (!std::string_view(a.name()).starts_with("xmlns") ||
          std::string_view(a.value()) != kSnapshotNamespace) {
        continue;
      }
      StatusOr<std::vector<Record>> records = ParseSnapshotRecords(child);
      if (!records.ok()) return records.status().WithContext("its snapshot record");
      for (const Record& r : *records) names.push_back(r.name);
      return names;
    }
  }
  return names;
}

namespace {

// The guest agent's calls on one domain answer within kGuestAgentTimeout while this lives; then
// libvirt's default (wait for ever) is back. libvirt has no call that reads the setting, so a
// timeout an operator set by hand (virsh guest-agent-timeout) is not restored; when putting the
// default back fails, the domain keeps the bounded timeout, which is the safer of the two.
class AgentDeadline {
 public:
  explicit AgentDeadline(virDomainPtr domain) : domain_(domain) {
    set_ = virDomainAgentSetResponseTimeout(domain_, static_cast<int>(kGuestAgentTimeout.count()),
                                            0) == 0;
  }
  ~AgentDeadline() {
    if (set_) {
      virDomainAgentSetResponseTimeout(domain_, VIR_DOMAIN_AGENT_RESPONSE_TIMEOUT_BLOCK, 0);
    }
  }
  AgentDeadline(const AgentDeadline&) = delete;
  AgentDeadline& operator=(const AgentDeadline&) = delete;
  bool set() const { return set_; }

 private:
  virDomainPtr domain_;
  bool set_ = false;
};

// The calling thread's last libvirt error says the guest agent did not answer (in time).
bool AgentDidNotAnswer() {
  virErrorPtr e = virGetLastError();
  return e != nullptr &&
         (e->code == VIR_ERR_AGENT_UNRESPONSIVE || e->code == VIR_ERR_OPERATION_TIMEOUT);
}

}  // namespace

Status FreezeDomain(virDomainPtr domain, const Step& step) {
  const std::string name = Name(domain);
  if (step.args.value("consistency", "") == "quiesce") {
    AgentDeadline deadline(domain);
    if (!deadline.set()) {
      return LastError("setting a deadline on the guest agent of domain " + name);
    }
    if (virDomainFSFreeze(domain, nullptr, 0, 0) >= 0) return Status::Ok();
    const bool unanswered = AgentDidNotAnswer();
    const Status failed =
        LastError("freezing the file systems of domain " + name + " through its guest agent");
    // An agent that did not answer in time may still freeze after libvirt gave up on it: it is
    // asked to thaw. (Any other failure, such as file systems someone else froze, is left alone:
    // thawing would undo their freeze.)
    if (!unanswered || virDomainFSThaw(domain, nullptr, 0, 0) >= 0) return failed;
    return failed.WithNote(
        "the agent did not answer a thaw either, so the guest's file systems may freeze when it "
        "does: thaw them then with `virsh domfsthaw " +
        name + "`");
  }
  if (virDomainSuspend(domain) < 0) return LastError("pausing domain " + name);
  return Status::Ok();
}

Status ThawDomain(virDomainPtr domain, const Step& step) {
  const std::string name = Name(domain);
  if (step.args.value("consistency", "") == "quiesce") {
    // Thawed even when the deadline cannot be set: a guest left frozen is the worse outcome.
    AgentDeadline deadline(domain);
    if (virDomainFSThaw(domain, nullptr, 0, 0) < 0) {
      return LastError("thawing the file systems of domain " + name +
                       " (they may still be frozen: `virsh domfsthaw " + name + "`)");
    }
    return Status::Ok();
  }
  if (virDomainResume(domain) < 0) return LastError("resuming domain " + name);
  return Status::Ok();
}

Status TakeSnapshot(virConnectPtr conn, virDomainPtr domain, const Step& step) {
  const std::string name = step.args.value("snapshot", "");
  const std::string domain_name = Name(domain);
  StatusOr<std::vector<Record>> records = ReadRecords(domain);
  if (!records.ok()) return records.status();
  if (Find(*records, name)) return Status::Ok();  // taken already (an apply run again)

  std::set<std::string> volume_targets;
  Record record{name, step.args.value("consistency", ""), Rfc3339UtcNow(), {}};
  for (const Json& disk : step.args.value("disks", Json::array())) {
    if (!disk.is_object()) continue;
    const std::string target = disk.value("target", "");
    if (disk.contains("rbd")) {
      record.disks.push_back({target, "", "", "", disk.value("rbd", "")});
    } else {
      volume_targets.insert(target);
    }
  }

  const int active = virDomainIsActive(domain);
  if (active < 0) return LastError("reading the state of domain " + domain_name);
  StatusOr<pugi::xml_document> xml = DomainXml(domain, active == 1 ? 0 : VIR_DOMAIN_XML_INACTIVE);
  if (!xml.ok()) return xml.status();

  pugi::xml_document snapshot;
  pugi::xml_node root = snapshot.append_child("domainsnapshot");
  root.append_child("name").text() = name.c_str();
  root.append_child("description").text() = "taken by virtconverge";
  root.append_child("memory").append_attribute("snapshot") = "no";
  pugi::xml_node disks = root.append_child("disks");
  std::set<std::string> seen;
  for (pugi::xml_node disk : xml->document_element().child("devices").children("disk")) {
    const std::string target = disk.child("target").attribute("dev").as_string();
    if (target.empty()) continue;
    pugi::xml_node entry = disks.append_child("disk");
    entry.append_attribute("name") = target.c_str();
    if (!volume_targets.count(target)) {
      entry.append_attribute("snapshot") = "no";
      continue;
    }
    seen.insert(target);
    StatusOr<std::string> current = DiskFile(conn, disk, domain_name);
    if (!current.ok()) return current.status();
    const std::string overlay = OverlayPath(*current, name);
    entry.append_attribute("snapshot") = "external";
    entry.append_attribute("type") = "file";
    entry.append_child("driver").append_attribute("type") = "qcow2";
    entry.append_child("source").append_attribute("file") = overlay.c_str();
    record.disks.push_back(
        {target, overlay, *current, disk.child("driver").attribute("type").as_string("raw"), ""});
  }
  for (const std::string& target : volume_targets) {
    if (!seen.count(target)) {
      return Status::NotFound("domain " + domain_name + " has no disk " + target + " to snapshot");
    }
  }
  if (!volume_targets.empty()) {
    std::ostringstream out;
    snapshot.save(out, "", pugi::format_raw | pugi::format_no_declaration);
    const unsigned flags = VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY |
                           VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC |
                           VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA;
    virDomainSnapshotPtr taken = virDomainSnapshotCreateXML(domain, out.str().c_str(), flags);
    if (taken == nullptr) {
      return LastError("taking snapshot " + name + " of domain " + domain_name);
    }
    virDomainSnapshotFree(taken);
  }
  records->push_back(std::move(record));
  return WriteRecords(domain, *records);
}

Status DeleteSnapshot(virDomainPtr domain, const Step& step, bool local) {
  const std::string name = step.args.value("snapshot", "");
  StatusOr<Recorded> recorded = ReadRecorded(domain, name);
  if (!recorded.ok()) return recorded.status();
  if (!recorded->index) return Status::Ok();  // deleted already
  if (recorded->FilesElsewhere(local)) {
    return Status::Unsupported("deleting snapshot " + name + " of domain " + recorded->domain_name +
                               " merges and removes its overlay files: only on a local "
                               "connection");
  }
  std::vector<Record>& records = recorded->records;
  const std::size_t index = *recorded->index;
  const bool active = recorded->active;
  for (const Layer& layer : records[index].disks) {
    if (!layer.rbd.empty()) continue;
    // The snapshot taken next on this disk sits on this overlay: it gets this overlay's backing.
    Layer* upper = nullptr;
    for (Record& r : records) {
      for (Layer& l : r.disks) {
        if (r.name != name && l.target == layer.target && l.backing == layer.overlay) upper = &l;
      }
    }
    if (active) {
      const unsigned flags =
          upper == nullptr ? static_cast<unsigned>(VIR_DOMAIN_BLOCK_COMMIT_ACTIVE) : 0U;
      if (virDomainBlockCommit(domain, layer.target.c_str(), layer.backing.c_str(),
                               layer.overlay.c_str(), 0, flags) < 0) {
        return LastError("merging snapshot " + name + " of disk " + layer.target +
                         " (block commit)");
      }
      if (Status s = WaitForCommit(domain, layer.target, upper == nullptr); !s.ok()) return s;
    } else {
      if (Status s = RunQemuImg(
              {"qemu-img", "commit", "-q", "-f", "qcow2", "-b", layer.backing, layer.overlay},
              "merging snapshot " + name + " of disk " + layer.target);
          !s.ok()) {
        return s;
      }
      if (upper != nullptr) {
        if (Status s = RunQemuImg({"qemu-img", "rebase", "-q", "-u", "-f", "qcow2", "-b",
                                   layer.backing, "-F", layer.format, upper->overlay},
                                  "pointing " + upper->overlay + " at " + layer.backing);
            !s.ok()) {
          return s;
        }
      } else if (Status s = SetDiskFile(domain, layer.target, layer.backing); !s.ok()) {
        return s;
      }
    }
    if (upper != nullptr) {
      upper->backing = layer.backing;
      upper->format = layer.format;
    }
    if (Status s = RemoveFile(layer.overlay); !s.ok()) return s;
  }
  records.erase(records.begin() + static_cast<std::ptrdiff_t>(index));
  return WriteRecords(domain, records);
}

Status RevertSnapshot(virDomainPtr domain, const Step& step, bool local) {
  const std::string name = step.args.value("snapshot", "");
  StatusOr<Recorded> recorded = ReadRecorded(domain, name);
  if (!recorded.ok()) return recorded.status();
  const std::string& domain_name = recorded->domain_name;
  if (!recorded->index) {
    return Status::NotFound("domain " + domain_name + " has no snapshot " + name);
  }
  if (recorded->active) {
    return Status::FailedPrecondition("domain " + domain_name +
                                      " is running: it must be shut down to revert its disks");
  }
  if (recorded->FilesElsewhere(local)) {
    return Status::Unsupported("reverting domain " + domain_name +
                               " rewrites its overlay files: only on a local connection");
  }
  std::vector<Record>& records = recorded->records;
  const std::size_t index = *recorded->index;
  for (const Layer& layer : records[index].disks) {
    if (!layer.rbd.empty()) continue;
    for (std::size_t later = index + 1; later < records.size(); ++later) {
      for (const Layer& l : records[later].disks) {
        if (l.target != layer.target || !l.rbd.empty()) continue;
        if (Status s = RemoveFile(l.overlay); !s.ok()) return s;
      }
    }
    if (Status s = RemoveFile(layer.overlay); !s.ok()) return s;
    if (Status s = RunQemuImg({"qemu-img", "create", "-q", "-f", "qcow2", "-b", layer.backing, "-F",
                               layer.format, layer.overlay},
                              "a fresh overlay of disk " + layer.target + " over snapshot " + name);
        !s.ok()) {
      return s;
    }
    if (Status s = SetDiskFile(domain, layer.target, layer.overlay); !s.ok()) return s;
  }
  records.resize(index + 1);
  return WriteRecords(domain, records);
}

}  // namespace vc::libvirt
