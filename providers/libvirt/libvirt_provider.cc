#include "providers/libvirt/libvirt_provider.h"

#include <sys/xattr.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <pugixml.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "engine/cloud_init.h"
#include "engine/size.h"
#include "providers/libvirt/connect.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/libvirt_error.h"
#include "providers/libvirt/network_xml.h"
#include "providers/libvirt/node.h"
#include "providers/libvirt/seed_image.h"
#include "providers/libvirt/snapshot.h"
#include "providers/libvirt/storage_xml.h"

namespace vc::libvirt {
namespace {

// The ownership mark of a volume: an extended attribute on its file (volumes have no metadata in
// libvirt). Only readable and writable when the engine runs on the host itself.
constexpr const char* kVolumeMarkAttribute = "user.virtconverge";
constexpr const char* kVolumeMarkValue = "managed";

// The cephx key is base64; libvirt's ceph secrets hold the decoded bytes. Empty on bad input.
std::vector<unsigned char> Base64Decode(const std::string& text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<unsigned char> out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    int v = value(c);
    if (v < 0) return {};
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<unsigned char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

bool HasVolumeMark(const std::string& path) {
  char value[16] = {};
  ssize_t n = getxattr(path.c_str(), kVolumeMarkAttribute, value, sizeof value - 1);
  return n > 0 && std::string_view(value, static_cast<std::size_t>(n)) == kVolumeMarkValue;
}

std::string PoolOf(const std::string& key) { return key.substr(0, key.find('/')); }
std::string VolumeOf(const std::string& key) { return key.substr(key.find('/') + 1); }

std::string DomainState(virDomainPtr domain) {
  int state = 0;
  int reason = 0;
  if (virDomainGetState(domain, &state, &reason, 0) < 0) return "stopped";
  switch (state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
    case VIR_DOMAIN_PAUSED:
    case VIR_DOMAIN_SHUTDOWN:
    case VIR_DOMAIN_PMSUSPENDED:
      return "running";
    default:
      return "stopped";
  }
}

}  // namespace

LibvirtProvider::LibvirtProvider(Connection conn, std::string uri)
    : conn_(std::move(conn)), uri_(std::move(uri)) {}

StatusOr<std::unique_ptr<LibvirtProvider>> LibvirtProvider::Open(const std::string& uri,
                                                                 std::chrono::seconds timeout) {
  static std::once_flag silence;
  std::call_once(silence, SilenceDefaultErrorPrinting);
  StatusOr<Connection> opened = ConnectWithDeadline(uri, timeout);
  if (!opened.ok()) return opened.status();
  Connection conn = std::move(*opened);
  std::string canonical = AdoptString(virConnectGetURI(conn.get()));
  return std::unique_ptr<LibvirtProvider>(
      new LibvirtProvider(std::move(conn), canonical.empty() ? uri : canonical));
}

bool LibvirtProvider::alive() const { return virConnectIsAlive(conn_.get()) == 1; }

Status LibvirtProvider::Confirmed(Status status) const {
  if (status.error_code() == ErrorCode::kConnectionLost && alive())
    return Status::Internal(status.message()).WithErrorCode(ErrorCode::kOperationFailed);
  return status;
}

StatusOr<ObservedState> LibvirtProvider::ObserveAll() {
  StatusOr<ObservedState> state = ObserveAllUnchecked();
  if (!state.ok()) return Confirmed(state.status());
  return state;
}

StatusOr<std::optional<ObservedResource>> LibvirtProvider::ObserveOne(const Address& address) {
  StatusOr<std::optional<ObservedResource>> r = ObserveOneUnchecked(address);
  if (!r.ok()) return Confirmed(r.status());
  return r;
}

Status LibvirtProvider::Execute(const Step& step) { return Confirmed(ExecuteUnchecked(step)); }

bool LibvirtProvider::IsLocal() const { return uri_.find(":///") != std::string::npos; }

const std::string& LibvirtProvider::DefaultVirtType() {
  std::call_once(virt_type_once_, [this] {
    if (uri_.rfind("test:", 0) == 0) {
      virt_type_ = "test";
      return;
    }
    // The host capabilities are cached by libvirtd (domain capabilities would probe QEMU).
    std::string caps = AdoptString(virConnectGetCapabilities(conn_.get()));
    pugi::xml_document doc;
    doc.load_string(caps.c_str());
    pugi::xpath_node kvm = doc.select_node("//guest/arch[@name='x86_64']/domain[@type='kvm']");
    virt_type_ = kvm ? "kvm" : "qemu";
  });
  return virt_type_;
}

std::optional<std::string> LibvirtProvider::VolumeKeyByPath(const std::string& path) {
  if (path.empty()) return std::nullopt;
  Volume volume(virStorageVolLookupByPath(conn_.get(), path.c_str()));
  if (!volume) return std::nullopt;
  Pool pool(virStoragePoolLookupByVolume(volume.get()));
  if (!pool) return std::nullopt;
  return std::string(virStoragePoolGetName(pool.get())) + "/" + virStorageVolGetName(volume.get());
}

StatusOr<ObservedResource> LibvirtProvider::ReadPool(virStoragePoolPtr pool,
                                                     const std::string& name) {
  std::string xml = AdoptString(virStoragePoolGetXMLDesc(pool, VIR_STORAGE_XML_INACTIVE));
  if (xml.empty() && LastErrorIsUnsupportedFlags()) {
    // The test driver knows no flags here; its pools have one definition anyway.
    xml = AdoptString(virStoragePoolGetXMLDesc(pool, 0));
  }
  if (xml.empty()) return LastError("reading pool " + name);
  std::string uuid;
  StatusOr<Json> spec = ReadPoolXml(xml, &uuid);
  if (!spec.ok()) return spec.status().WithContext("pool " + name);
  int autostart = 0;
  if (virStoragePoolGetAutostart(pool, &autostart) == 0) (*spec)["autostart"] = autostart != 0;
  ObservedResource r{{Kind::kPool, name}, *spec, nullptr, uuid == OwnershipUuid("pool", name), {}};
  return r;
}

StatusOr<ObservedResource> LibvirtProvider::ReadNetwork(virNetworkPtr network,
                                                        const std::string& name) {
  std::string xml = AdoptString(virNetworkGetXMLDesc(network, VIR_NETWORK_XML_INACTIVE));
  if (xml.empty() && LastErrorIsUnsupportedFlags()) {
    xml = AdoptString(virNetworkGetXMLDesc(network, 0));  // the test driver knows no flags here
  }
  if (xml.empty()) return LastError("reading network " + name);
  bool managed = false;
  StatusOr<Json> spec = ReadNetworkXml(xml, &managed);
  if (!spec.ok()) return spec.status().WithContext("network " + name);
  int autostart = 0;
  if (virNetworkGetAutostart(network, &autostart) == 0) (*spec)["autostart"] = autostart != 0;
  return ObservedResource{{Kind::kNetwork, name}, *spec, nullptr, managed, {}};
}

StatusOr<ObservedResource> LibvirtProvider::ReadDomain(
    virDomainPtr domain, const std::string& name,
    const std::function<std::optional<std::string>(const std::string&)>& volume_by_path,
    std::optional<std::pair<std::string, bool>> state_and_autostart) {
  if (!state_and_autostart) {
    int flag = 0;
    virDomainGetAutostart(domain, &flag);
    state_and_autostart = {DomainState(domain), flag != 0};
  }
  const std::string state = state_and_autostart->first;
  const int autostart = state_and_autostart->second ? 1 : 0;
  std::string config_xml = AdoptString(virDomainGetXMLDesc(domain, VIR_DOMAIN_XML_INACTIVE));
  if (config_xml.empty()) return LastError("reading domain " + name);
  bool managed = false;
  std::string record_error;  // the domain's fact snapshot_record_error
  StatusOr<Json> spec = ReadDomainXml(config_xml, volume_by_path, &managed, &record_error);
  if (!spec.ok()) return spec.status().WithContext("domain " + name);
  (*spec)["state"] = state;
  (*spec)["autostart"] = autostart != 0;
  if (spec->contains("cloud_init")) {
    Json seed = ReadSeed((*spec)["cloud_init"].value("pool", ""), name);
    seed["bus"] = (*spec)["cloud_init"]["bus"];
    (*spec)["cloud_init"] = seed;
  }
  ObservedResource r{{Kind::kDomain, name}, *spec, nullptr, managed, Json::object()};
  // Each of these parses the XML again: only when it holds what they look for (a no-op plan of
  // many domains must cost little more than reading them).
  const bool has_dimms = config_xml.find("<memory model") != std::string::npos;
  const bool has_rbd = config_xml.find("protocol='rbd'") != std::string::npos;
  if (std::uint64_t dimms = has_dimms ? ConfigDimmBytes(config_xml) : 0; dimms > 0)
    r.facts["config_dimm_memory"] = FormatSize(dimms);
  if (!record_error.empty()) r.facts["snapshot_record_error"] = record_error;
  // An RBD disk whose libvirt secret is gone cannot be opened at the next start or attach:
  // observed, so the plan restores the secret instead of finding nothing to do.
  for (const RbdDiskSecret& disk :
       has_rbd ? RbdDiskSecrets(config_xml) : std::vector<RbdDiskSecret>{}) {
    Secret secret(virSecretLookupByUUIDString(conn_.get(), disk.uuid.c_str()));
    // Only a secret known to be gone is reported; one that cannot be looked up (no access) is
    // left to the start or attach that needs it, not made a failure of the whole observation.
    if (!secret && LastErrorIsNotFound()) {
      r.facts["missing_secrets"].push_back(
          {{"target", disk.target}, {"uuid", disk.uuid}, {"user", disk.user}});
    }
  }
  if (state == "running") {
    std::string live_xml = AdoptString(virDomainGetXMLDesc(domain, 0));
    if (live_xml.empty()) return LastError("reading the live definition of domain " + name);
    bool unused = false;
    StatusOr<Json> live = ReadDomainXml(live_xml, volume_by_path, &unused);
    if (!live.ok()) return live.status().WithContext("domain " + name);
    (*live)["state"] = state;
    (*live)["autostart"] = autostart != 0;
    live->erase("cloud_init");  // the seed is compared as the volume holds it
    r.live = *live;
    StatusOr<Json> facts = ReadDomainFacts(live_xml);
    if (!facts.ok()) return facts.status().WithContext("domain " + name);
    r.facts.update(*facts);
    if (live_xml.find(kSeedPendingNamespace) != std::string::npos) r.facts["seed_pending"] = true;
    // The running guest's memory differs from its config: an earlier balloon request may not
    // have been followed. Whether its balloon driver answers is then worth one more call.
    if (live->value("memory", Json()) != spec->value("memory", Json()))
      r.facts["balloon_driver"] = BalloonDriver(domain);
  }
  return r;
}

StatusOr<ObservedState> LibvirtProvider::ObserveAllUnchecked() {
  ObservedState state;
  state.connection = uri_;
  virConnectPtr c = conn_.get();

  // Pools and their volumes first: domains refer to volumes by path.
  virStoragePoolPtr* raw_pools = nullptr;
  int n = virConnectListAllStoragePools(c, &raw_pools, 0);
  if (n < 0) return LastError("listing storage pools");
  std::map<std::string, std::string> volume_by_path;
  std::map<std::string, std::string> backing_of;  // volume key -> backing path
  for (Pool& pool : AdoptList<Pool>(raw_pools, n)) {
    std::string name = virStoragePoolGetName(pool.get());
    StatusOr<ObservedResource> r = ReadPool(pool.get(), name);
    if (!r.ok()) {
      // Removed by another tool between the list and the read: it is simply not there.
      if (r.status().code() == Status::Code::kNotFound) continue;
      return r.status();
    }
    state.resources.emplace(r->address, *r);
    // An rbd pool's volumes are RBD images: the Ceph provider reports those, as rbd_images.
    if (virStoragePoolIsActive(pool.get()) != 1 || r->spec.value("type", "") == "rbd") continue;
    virStorageVolPtr* raw_volumes = nullptr;
    int m = virStoragePoolListAllVolumes(pool.get(), &raw_volumes, 0);
    if (m < 0 && LastErrorIsNotFound()) {  // the pool went away meanwhile
      state.resources.erase(r->address);
      continue;
    }
    if (m < 0) return LastError("listing volumes of pool " + name);
    for (Volume& volume : AdoptList<Volume>(raw_volumes, m)) {
      std::string key = name + "/" + virStorageVolGetName(volume.get());
      std::string xml = AdoptString(virStorageVolGetXMLDesc(volume.get(), 0));
      if (xml.empty() && LastErrorIsNotFound()) continue;  // deleted meanwhile
      if (xml.empty()) return LastError("reading volume " + key);
      StatusOr<VolumeXmlFields> fields = ReadVolumeXml(xml);
      if (!fields.ok()) return fields.status().WithContext("volume " + key);
      std::string path = AdoptString(virStorageVolGetPath(volume.get()));
      volume_by_path[path] = key;
      if (!fields->backing_path.empty()) backing_of[key] = fields->backing_path;
      bool managed = IsLocal() && HasVolumeMark(path);
      state.resources.emplace(
          Address{Kind::kVolume, key},
          ObservedResource{{Kind::kVolume, key}, fields->spec, nullptr, managed, {}});
    }
  }
  for (const auto& [key, path] : backing_of) {
    auto it = volume_by_path.find(path);
    if (it != volume_by_path.end()) {
      state.resources[Address{Kind::kVolume, key}].spec["backing_volume"] = it->second;
    }
  }

  virNetworkPtr* raw_networks = nullptr;
  n = virConnectListAllNetworks(c, &raw_networks, 0);
  if (n < 0) return LastError("listing networks");
  for (Network& network : AdoptList<Network>(raw_networks, n)) {
    StatusOr<ObservedResource> r = ReadNetwork(network.get(), virNetworkGetName(network.get()));
    if (!r.ok()) {
      if (r.status().code() == Status::Code::kNotFound) continue;  // undefined meanwhile
      return r.status();
    }
    state.resources.emplace(r->address, *r);
  }

  // State and autostart for all domains in two list calls, not two calls per domain.
  auto names_of = [&](unsigned flags, std::set<std::string>* out) -> Status {
    virDomainPtr* raw = nullptr;
    int count = virConnectListAllDomains(c, &raw, flags);
    if (count < 0) return LastError("listing domains");
    for (Domain& d : AdoptList<Domain>(raw, count)) out->insert(virDomainGetName(d.get()));
    return Status::Ok();
  };
  std::set<std::string> active;
  std::set<std::string> autostarted;
  if (Status s = names_of(VIR_CONNECT_LIST_DOMAINS_ACTIVE, &active); !s.ok()) return s;
  if (Status s = names_of(VIR_CONNECT_LIST_DOMAINS_AUTOSTART, &autostarted); !s.ok()) return s;
  virDomainPtr* raw_domains = nullptr;
  n = virConnectListAllDomains(c, &raw_domains, 0);
  if (n < 0) return LastError("listing domains");
  auto by_path = [&](const std::string& path) -> std::optional<std::string> {
    auto it = volume_by_path.find(path);
    if (it == volume_by_path.end()) return std::nullopt;
    return it->second;
  };
  for (Domain& domain : AdoptList<Domain>(raw_domains, n)) {
    std::string name = virDomainGetName(domain.get());
    StatusOr<ObservedResource> r = ReadDomain(
        domain.get(), name, by_path,
        std::make_pair(active.count(name) ? "running" : "stopped", autostarted.count(name) > 0));
    if (!r.ok()) {
      if (r.status().code() == Status::Code::kNotFound) continue;  // undefined meanwhile
      return r.status();
    }
    state.resources.emplace(r->address, *r);
  }
  return state;
}

StatusOr<std::optional<ObservedResource>> LibvirtProvider::ObserveOneUnchecked(
    const Address& address) {
  using Result = std::optional<ObservedResource>;
  virConnectPtr c = conn_.get();
  switch (address.kind) {
    case Kind::kRbdImage:
      return Status::Unsupported("RBD images are observed by the Ceph provider");
    case Kind::kHost: {
      StatusOr<ObservedResource> r = ReadNode(c, uri_);
      if (!r.ok()) return r.status();
      r->address = address;
      return Result(*r);
    }
    case Kind::kPool: {
      Pool pool(virStoragePoolLookupByName(c, address.name.c_str()));
      if (!pool)
        return LastErrorIsNotFound() ? StatusOr<Result>(Result())
                                     : LastError("looking up pool " + address.name);
      StatusOr<ObservedResource> r = ReadPool(pool.get(), address.name);
      if (!r.ok()) return r.status();
      return Result(*r);
    }
    case Kind::kNetwork: {
      Network network(virNetworkLookupByName(c, address.name.c_str()));
      if (!network) {
        return LastErrorIsNotFound() ? StatusOr<Result>(Result())
                                     : LastError("looking up network " + address.name);
      }
      StatusOr<ObservedResource> r = ReadNetwork(network.get(), address.name);
      if (!r.ok()) return r.status();
      return Result(*r);
    }
    case Kind::kVolume: {
      Pool pool(virStoragePoolLookupByName(c, PoolOf(address.name).c_str()));
      if (!pool) return Result();
      Volume volume(virStorageVolLookupByName(pool.get(), VolumeOf(address.name).c_str()));
      if (!volume) {
        return LastErrorIsNotFound() ? StatusOr<Result>(Result())
                                     : LastError("looking up volume " + address.name);
      }
      std::string xml = AdoptString(virStorageVolGetXMLDesc(volume.get(), 0));
      if (xml.empty()) return LastError("reading volume " + address.name);
      StatusOr<VolumeXmlFields> fields = ReadVolumeXml(xml);
      if (!fields.ok()) return fields.status();
      if (!fields->backing_path.empty()) {
        if (auto key = VolumeKeyByPath(fields->backing_path)) fields->spec["backing_volume"] = *key;
      }
      std::string path = AdoptString(virStorageVolGetPath(volume.get()));
      return Result(
          ObservedResource{address, fields->spec, nullptr, IsLocal() && HasVolumeMark(path), {}});
    }
    case Kind::kDomain: {
      Domain domain(virDomainLookupByName(c, address.name.c_str()));
      if (!domain) {
        return LastErrorIsNotFound() ? StatusOr<Result>(Result())
                                     : LastError("looking up domain " + address.name);
      }
      StatusOr<ObservedResource> r = ReadDomain(
          domain.get(), address.name, [this](const std::string& p) { return VolumeKeyByPath(p); });
      if (!r.ok()) return r.status();
      return Result(*r);
    }
  }
  return Result();
}

Status LibvirtProvider::ExecuteUnchecked(const Step& step) {
  switch (step.op) {
    case Step::Op::kCreate:
      switch (step.address.kind) {
        case Kind::kPool:
          return CreatePool(step);
        case Kind::kVolume:
          return CreateVolume(step);
        case Kind::kNetwork:
          return CreateNetwork(step);
        case Kind::kDomain:
          return CreateDomain(step);
        case Kind::kRbdImage:
        case Kind::kHost:
          break;
      }
      break;
    case Step::Op::kWriteSeed:
      return WriteSeed(step);
    case Step::Op::kSetKsm:
      return SetKsm(conn_.get(), uri_, step.args.value("settings", Json::object()));
    case Step::Op::kMigrate:  // two hosts: the fleet backend calls MigrateTo
    case Step::Op::kUpdateFeatures:
    case Step::Op::kCreateSnapshots:
    case Step::Op::kProtectSnapshot:
    case Step::Op::kFlatten:
      break;
    case Step::Op::kDelete:
      return Delete(step);
    case Step::Op::kWriteConfig:
      return WriteDomainConfig(step);
    case Step::Op::kDefineCephSecret:
      return DefineCephSecret(step);
    case Step::Op::kStart:
      return Start(step);
    case Step::Op::kShutdown:
      return Shutdown(step);
    case Step::Op::kSetAutostart:
      return SetAutostart(step);
    case Step::Op::kResize:
      return ResizeVolume(step);
    case Step::Op::kBlockResize:
      return BlockResize(step);
    case Step::Op::kSetVcpusLive:
      return SetVcpusLive(step);
    case Step::Op::kSetMemoryLive:
      return SetMemoryLive(step);
    case Step::Op::kAttachMemoryLive: {
      StatusOr<std::uint64_t> bytes = ArgBytes(step, "bytes");
      if (!bytes.ok()) return bytes.status();
      return AttachLive(step, DimmDeviceXml(*bytes));
    }
    case Step::Op::kAttachDiskLive: {
      StatusOr<std::string> xml = DiskDeviceXml(step.args, XmlContext());
      if (!xml.ok()) return xml.status();
      return AttachLive(step, *xml);
    }
    case Step::Op::kAttachInterfaceLive:
      return AttachLive(step, InterfaceDeviceXml(step.args));
    case Step::Op::kDetachDiskLive:
    case Step::Op::kDetachInterfaceLive:
      return DetachLive(step);
    case Step::Op::kSnapshotDomain:
    case Step::Op::kDeleteDomainSnapshot:
    case Step::Op::kRevertDomainSnapshot:
    case Step::Op::kFreezeDomain:
    case Step::Op::kThawDomain:
      return DomainSnapshotStep(step);
    case Step::Op::kRemoveSnapshot:
    case Step::Op::kRollbackSnapshot:
      break;
  }
  return Status::Unsupported(step.Describe() + ": not a libvirt operation");
}

std::string BalloonDriver(virDomainPtr domain) {
  virDomainMemoryStatStruct stats[VIR_DOMAIN_MEMORY_STAT_NR];
  const int n = virDomainMemoryStats(domain, stats, VIR_DOMAIN_MEMORY_STAT_NR, 0);
  if (n < 0) return "unknown";
  for (int i = 0; i < n; ++i) {
    // Only the guest's driver reports these (QEMU alone knows the balloon's size and its RSS).
    switch (stats[i].tag) {
      case VIR_DOMAIN_MEMORY_STAT_UNUSED:
      case VIR_DOMAIN_MEMORY_STAT_AVAILABLE:
      case VIR_DOMAIN_MEMORY_STAT_USABLE:
        return "answers";
      case VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE:  // QEMU reports 0 until the guest first does
        if (stats[i].val > 0) return "answers";
        break;
      default:
        break;
    }
  }
  return "silent";
}

Status LibvirtProvider::DomainSnapshotStep(const Step& step) {
  StatusOr<Domain> domain = LookupDomain(step.address.name);
  if (!domain.ok()) return domain.status();
  switch (step.op) {
    case Step::Op::kFreezeDomain:
      return FreezeDomain(domain->get(), step);
    case Step::Op::kThawDomain:
      return ThawDomain(domain->get(), step);
    case Step::Op::kSnapshotDomain:
      return TakeSnapshot(conn_.get(), domain->get(), step);
    case Step::Op::kDeleteDomainSnapshot:
      return DeleteSnapshot(domain->get(), step, IsLocal());
    default:
      return RevertSnapshot(domain->get(), step, IsLocal());
  }
}

Status LibvirtProvider::MigrateTo(LibvirtProvider& destination, const std::string& name,
                                  bool copy_storage, const MigrationOptions& options,
                                  MigrationStats* stats) {
  StatusOr<Domain> domain = LookupDomain(name);
  if (!domain.ok()) return Confirmed(domain.status());
  const int active = virDomainIsActive(domain->get());
  if (active < 0) return Confirmed(LastError("reading the state of domain " + name));
  if (active == 1) {
    if (destination.ceph_) {
      StatusOr<std::string> secret = destination.CephSecretUuid();
      if (!secret.ok()) return secret.status().WithContext("on the destination");
    }
    MigrationOptions with_copy = options;
    with_copy.copy_storage = copy_storage;
    return MigrateLive(conn_.get(), destination.conn_.get(), name, with_copy, stats);
  }
  // Stopped: nothing runs and nothing is copied; the definition moves, exactly as it is.
  std::string xml = AdoptString(
      virDomainGetXMLDesc(domain->get(), VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE));
  if (xml.empty()) return Confirmed(LastError("reading domain " + name));
  Domain defined(virDomainDefineXML(destination.conn_.get(), xml.c_str()));
  if (!defined) return destination.Confirmed(LastError("defining domain " + name + " there"));
  if (virDomainUndefineFlags(domain->get(), VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                                VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                                                VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA) < 0) {
    Status failed = Confirmed(LastError("removing domain " + name + " from the source"));
    // Never on both hosts: the copy just made goes again.
    virDomainUndefine(defined.get());
    return failed;
  }
  return Status::Ok();
}

StatusOr<Json> LibvirtProvider::BaselineOf(const std::vector<LibvirtProvider*>& hosts) {
  std::vector<virConnectPtr> conns;
  for (LibvirtProvider* host : hosts) conns.push_back(host->conn_.get());
  StatusOr<std::string> xml = BaselineCpu(conns);
  if (!xml.ok()) return xml.status();
  return CpuSpecFromXml(*xml);
}

Status LibvirtProvider::CheckCpuOn(LibvirtProvider& destination, const std::string& name,
                                   std::vector<std::string>* missing_features) {
  StatusOr<Domain> domain = LookupDomain(name);
  if (!domain.ok()) return Confirmed(domain.status());
  const int active = virDomainIsActive(domain->get());
  std::string xml = AdoptString(virDomainGetXMLDesc(
      domain->get(), active == 1 ? VIR_DOMAIN_XML_MIGRATABLE : VIR_DOMAIN_XML_INACTIVE));
  if (xml.empty()) return Confirmed(LastError("reading domain " + name));
  std::vector<std::string> there;
  Status on_destination = CheckCpuCompatible(destination.conn_.get(), xml, &there);
  if (on_destination.ok()) return on_destination;
  // libvirt judges a CPU by every feature its model names, also those QEMU drops where the host
  // lacks them (check='none', the default qemu64 asks for svm on Intel): the guest does not have
  // those now. What counts is what it would lose by moving, the features its own host gives it.
  std::vector<std::string> here;
  Status on_source = CheckCpuCompatible(conn_.get(), xml, &here);
  if (on_source.ok()) {
    if (missing_features != nullptr) *missing_features = there;
    return on_destination;
  }
  std::vector<std::string> lost;
  for (const std::string& feature : there) {
    if (std::find(here.begin(), here.end(), feature) == here.end()) lost.push_back(feature);
  }
  if (there.empty() && !here.empty()) return on_destination;  // another reason than features
  if (lost.empty()) return Status::Ok();
  if (missing_features != nullptr) *missing_features = lost;
  return on_destination;
}

StatusOr<Domain> LibvirtProvider::LookupDomain(const std::string& name) {
  Domain domain(virDomainLookupByName(conn_.get(), name.c_str()));
  if (!domain) return LastError("looking up domain " + name);
  return domain;
}

StatusOr<Volume> LibvirtProvider::LookupVolume(const std::string& key) {
  Pool pool(virStoragePoolLookupByName(conn_.get(), PoolOf(key).c_str()));
  if (!pool) return LastError("looking up pool " + PoolOf(key));
  Volume volume(virStorageVolLookupByName(pool.get(), VolumeOf(key).c_str()));
  if (!volume) return LastError("looking up volume " + key);
  return volume;
}

Status LibvirtProvider::CreatePool(const Step& step) {
  const std::string& name = step.address.name;
  std::optional<RbdPoolSource> rbd;
  if (step.args.value("type", "") == "rbd") {
    if (!ceph_)
      return Status::InvalidArgument("pool " + name + ": an rbd pool needs the ceph: section");
    StatusOr<std::string> secret = CephSecretUuid();
    if (!secret.ok()) return secret.status();
    rbd = RbdPoolSource{ceph_->monitors, ceph_->user, *secret};
  }
  std::string xml = NewPoolXml(name, step.args, OwnershipUuid("pool", name), rbd ? &*rbd : nullptr);
  Pool pool(virStoragePoolDefineXML(conn_.get(), xml.c_str(), 0));
  if (!pool) return LastError("defining pool " + name);
  // A pool that cannot be built or started is undefined again: a failed create changes nothing.
  auto undo = [&](Status failure) {
    virStoragePoolUndefine(pool.get());
    return failure;
  };
  // Building a dir pool creates its directory (with the declared permissions) if missing.
  if (step.args.value("type", "") == "dir" && virStoragePoolBuild(pool.get(), 0) < 0) {
    return undo(LastError("building pool " + name));
  }
  if (virStoragePoolCreate(pool.get(), 0) < 0) return undo(LastError("starting pool " + name));
  if (virStoragePoolSetAutostart(pool.get(), step.args.value("autostart", true) ? 1 : 0) < 0) {
    return LastError("setting autostart of pool " + name);
  }
  return Status::Ok();
}

Status LibvirtProvider::CreateVolume(const Step& step) {
  const std::string& key = step.address.name;
  Pool pool(virStoragePoolLookupByName(conn_.get(), PoolOf(key).c_str()));
  if (!pool) return LastError("looking up pool " + PoolOf(key));
  std::string backing_path;
  std::string backing_format;
  if (step.args.contains("backing_volume")) {
    std::string backing_key = step.args["backing_volume"];
    StatusOr<Volume> backing = LookupVolume(backing_key);
    if (!backing.ok()) return backing.status();
    backing_path = AdoptString(virStorageVolGetPath(backing->get()));
    StatusOr<VolumeXmlFields> fields =
        ReadVolumeXml(AdoptString(virStorageVolGetXMLDesc(backing->get(), 0)));
    if (!fields.ok()) return fields.status().WithContext("backing volume " + backing_key);
    backing_format = fields->spec.value("format", "raw");
  }
  std::string pool_uuid;
  StatusOr<Json> pool_spec =
      ReadPoolXml(AdoptString(virStoragePoolGetXMLDesc(pool.get(), 0)), &pool_uuid);
  bool logical = pool_spec.ok() && pool_spec->value("type", "") == "logical";
  std::string xml = NewVolumeXml(VolumeOf(key), step.args, backing_path, backing_format, logical);
  Volume volume(virStorageVolCreateXML(pool.get(), xml.c_str(), 0));
  if (!volume) return LastError("creating volume " + key);
  if (IsLocal()) {
    std::string path = AdoptString(virStorageVolGetPath(volume.get()));
    // Best effort: without the mark the volume is simply never pruned.
    setxattr(path.c_str(), kVolumeMarkAttribute, kVolumeMarkValue, std::strlen(kVolumeMarkValue),
             0);
  }
  return Status::Ok();
}

Status LibvirtProvider::CreateNetwork(const Step& step) {
  const std::string& name = step.address.name;
  StatusOr<std::string> xml = NewNetworkXml(name, step.args);
  if (!xml.ok()) return xml.status();
  Network network(virNetworkDefineXML(conn_.get(), xml->c_str()));
  if (!network) return LastError("defining network " + name);
  if (virNetworkCreate(network.get()) < 0) {
    Status failure = LastError("starting network " + name);
    virNetworkUndefine(network.get());
    return failure;
  }
  if (virNetworkSetAutostart(network.get(), step.args.value("autostart", true) ? 1 : 0) < 0) {
    return LastError("setting autostart of network " + name);
  }
  return Status::Ok();
}

DomainXmlContext LibvirtProvider::XmlContext() {
  return {DefaultVirtType(),
          [this](const std::string& key) -> StatusOr<std::string> {
            StatusOr<Volume> volume = LookupVolume(key);
            if (!volume.ok()) return volume.status();
            StatusOr<VolumeXmlFields> fields =
                ReadVolumeXml(AdoptString(virStorageVolGetXMLDesc(volume->get(), 0)));
            if (!fields.ok()) return fields.status();
            return fields->spec.value("format", "raw");
          },
          [this](const std::string& path) { return VolumeKeyByPath(path); },
          ceph_ ? std::optional<CephDiskAccess>(CephDiskAccess{ceph_->monitors, ceph_->user,
                                                               [this] { return CephSecretUuid(); }})
                : std::nullopt};
}

StatusOr<std::string> LibvirtProvider::CephSecretUuid() {
  std::call_once(secret_once_, [this] {
    if (!ceph_) {
      secret_status_ = Status::InvalidArgument("no ceph: section is configured");
      return;
    }
    std::string uuid = OwnershipUuid("secret", "client." + ceph_->user);
    Secret secret(virSecretDefineXML(conn_.get(), CephSecretXml(uuid, ceph_->user).c_str(), 0));
    if (!secret) {
      // A secret for this usage may exist already under another UUID (made by hand): use it.
      std::string usage = "client." + ceph_->user + " virtconverge";
      secret.reset(virSecretLookupByUsage(conn_.get(), VIR_SECRET_USAGE_TYPE_CEPH, usage.c_str()));
      if (!secret) {
        secret_status_ = LastError("defining the libvirt secret for client." + ceph_->user);
        return;
      }
      char text[VIR_UUID_STRING_BUFLEN];
      virSecretGetUUIDString(secret.get(), text);
      uuid = text;
    }
    std::vector<unsigned char> value = Base64Decode(ceph_->key);
    if (value.empty()) {
      secret_status_ =
          Status::InvalidArgument("the cephx key of client." + ceph_->user + " is not base64");
      return;
    }
    if (virSecretSetValue(secret.get(), value.data(), value.size(), 0) < 0) {
      secret_status_ = LastError("storing the cephx key in the libvirt secret");
      return;
    }
    secret_uuid_ = uuid;
  });
  if (!secret_status_.ok()) return secret_status_;
  return secret_uuid_;
}

Status LibvirtProvider::DefineCephSecret(const Step& step) {
  const std::string user = step.args.value("user", "");
  const std::string uuid = step.args.value("uuid", "");
  if (!ceph_ || ceph_->user != user) {
    return Status::InvalidArgument(step.Describe() + ": the run's ceph: section is not client." +
                                   user);
  }
  Secret secret(virSecretDefineXML(conn_.get(), CephSecretXml(uuid, user).c_str(), 0));
  if (!secret) return LastError(step.Describe());
  std::vector<unsigned char> value = Base64Decode(ceph_->key);
  if (value.empty())
    return Status::InvalidArgument("the cephx key of client." + user + " is not base64");
  if (virSecretSetValue(secret.get(), value.data(), value.size(), 0) < 0)
    return LastError("storing the cephx key in the libvirt secret " + uuid);
  return Status::Ok();
}

Status LibvirtProvider::CreateDomain(const Step& step) {
  DomainXmlContext context = XmlContext();
  StatusOr<std::string> xml = NewDomainXml(step.address.name, step.args, context);
  if (!xml.ok()) return xml.status().WithContext("domain " + step.address.name);
  Domain domain(virDomainDefineXML(conn_.get(), xml->c_str()));
  if (!domain) return LastError("defining domain " + step.address.name);
  return Status::Ok();
}

namespace {

int ReceiveInto(virStreamPtr, const char* data, size_t n, void* opaque) {
  auto* out = static_cast<std::string*>(opaque);
  constexpr std::size_t kMostSeedBytes = 16 * 1024 * 1024;  // a seed is a few hundred KiB
  if (out->size() + n > kMostSeedBytes) return -1;
  out->append(data, n);
  return static_cast<int>(n);
}

struct Upload {
  const std::string* data;
  std::size_t offset = 0;
};

int SendFrom(virStreamPtr, char* data, size_t n, void* opaque) {
  auto* up = static_cast<Upload*>(opaque);
  std::size_t left = up->data->size() - up->offset;
  std::size_t chunk = std::min(left, n);
  std::memcpy(data, up->data->data() + up->offset, chunk);
  up->offset += chunk;
  return static_cast<int>(chunk);
}

}  // namespace

Json LibvirtProvider::ReadSeed(const std::string& pool, const std::string& domain) {
  Json out = {{"pool", pool}};
  StatusOr<Volume> volume = LookupVolume(pool + "/" + SeedVolumeName(domain));
  if (!volume.ok()) return out;
  Stream stream(virStreamNew(conn_.get(), 0));
  if (!stream) return out;
  std::string bytes;
  if (virStorageVolDownload(volume->get(), stream.get(), 0, 0, 0) < 0) return out;
  if (virStreamRecvAll(stream.get(), ReceiveInto, &bytes) < 0) {
    virStreamAbort(stream.get());
    return out;
  }
  if (virStreamFinish(stream.get()) < 0) return out;
  StatusOr<std::vector<SeedFile>> files = ReadSeedImage(bytes);
  if (!files.ok()) return out;
  StatusOr<Json> seed = CloudInitFromSeedFiles(*files);
  if (!seed.ok()) return out;
  out.update(*seed);
  return out;
}

Status LibvirtProvider::WriteSeed(const Step& step) {
  const Json cloud_init = step.args.value("cloud_init", Json::object());
  const std::string pool_name = step.args.value("pool", "");
  const std::string key = pool_name + "/" + step.args.value("volume", "");
  const std::vector<SeedFile> files = SeedFiles(cloud_init);
  if (SeedHash(files) != step.args.value("seed", "")) {
    return Status::FailedPrecondition("the cloud-init seed of domain " + step.address.name +
                                      " built from the document does not hash to the plan's " +
                                      step.args.value("seed", "") +
                                      ": nothing written (plan again)");
  }
  StatusOr<std::string> image = BuildSeedImage(files);
  if (!image.ok()) return image.status();
  Pool pool(virStoragePoolLookupByName(conn_.get(), pool_name.c_str()));
  if (!pool) return LastError("looking up pool " + pool_name + " for the cloud-init seed");
  Volume volume(virStorageVolLookupByName(pool.get(), step.args.value("volume", "").c_str()));
  if (!volume) {
    Json raw = {{"format", "raw"}, {"capacity", FormatSize(image->size())}};
    std::string xml = NewVolumeXml(step.args.value("volume", ""), raw, "", "", false);
    volume.reset(virStorageVolCreateXML(pool.get(), xml.c_str(), 0));
    if (!volume) return LastError("creating the cloud-init seed volume " + key);
  } else {
    virStorageVolInfo info{};
    if (virStorageVolGetInfo(volume.get(), &info) < 0) return LastError("reading volume " + key);
    if (info.capacity < image->size() && virStorageVolResize(volume.get(), image->size(), 0) < 0) {
      return LastError("growing the cloud-init seed volume " + key);
    }
  }
  Stream stream(virStreamNew(conn_.get(), 0));
  if (!stream) return LastError("uploading the cloud-init seed " + key);
  if (virStorageVolUpload(volume.get(), stream.get(), 0, image->size(), 0) < 0) {
    return LastError("uploading the cloud-init seed " + key);
  }
  Upload up{&*image};
  if (virStreamSendAll(stream.get(), SendFrom, &up) < 0) {
    Status s = LastError("uploading the cloud-init seed " + key);
    virStreamAbort(stream.get());
    return s;
  }
  if (virStreamFinish(stream.get()) < 0) return LastError("uploading the cloud-init seed " + key);
  // A running guest read its seed at boot: it takes this one at its next. Marked in the running
  // definition only (gone when QEMU stops), so observe reports the seed as pending until then;
  // unless the plan says the change waits for that boot by design (on_change: next_boot).
  Domain domain(virDomainLookupByName(conn_.get(), step.address.name.c_str()));
  if (step.args.value("mark_pending", true) && domain && virDomainIsActive(domain.get()) == 1) {
    pugi::xml_document mark;
    mark.append_child("pending").append_attribute("seed") = step.args.value("seed", "").c_str();
    std::ostringstream text;
    mark.save(text, "", pugi::format_raw | pugi::format_no_declaration);
    if (virDomainSetMetadata(domain.get(), VIR_DOMAIN_METADATA_ELEMENT, text.str().c_str(),
                             "vcseed", kSeedPendingNamespace, VIR_DOMAIN_AFFECT_LIVE) < 0) {
      return LastError("marking the new cloud-init seed of running domain " + step.address.name);
    }
  }
  return Status::Ok();
}

Status LibvirtProvider::WriteDomainConfig(const Step& step) {
  StatusOr<Domain> domain = LookupDomain(step.address.name);
  if (!domain.ok()) return domain.status();
  // SECURE keeps passwords (VNC, SPICE) that a redefinition would otherwise drop.
  std::string existing = AdoptString(
      virDomainGetXMLDesc(domain->get(), VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE));
  if (existing.empty()) return LastError("reading domain " + step.address.name);
  DomainXmlContext context = XmlContext();
  StatusOr<std::string> xml = MergeDomainXml(existing, step.args, context);
  if (!xml.ok()) return xml.status().WithContext("domain " + step.address.name);
  Domain redefined(virDomainDefineXML(conn_.get(), xml->c_str()));
  if (!redefined) return LastError("redefining domain " + step.address.name);
  return Status::Ok();
}

Status LibvirtProvider::Delete(const Step& step) {
  const std::string& name = step.address.name;
  virConnectPtr c = conn_.get();
  switch (step.address.kind) {
    case Kind::kDomain: {
      StatusOr<Domain> domain = LookupDomain(name);
      if (!domain.ok()) return domain.status();
      if (virDomainIsActive(domain->get()) == 1 && virDomainDestroy(domain->get()) < 0) {
        return LastError("stopping domain " + name);
      }
      // Its cloud-init seed volume is the domain's own: removed with it.
      bool unused = false;
      StatusOr<Json> spec = ReadDomainXml(
          AdoptString(virDomainGetXMLDesc(domain->get(), VIR_DOMAIN_XML_INACTIVE)),
          [this](const std::string& p) { return VolumeKeyByPath(p); }, &unused);
      std::string seed_pool =
          spec.ok() && spec->contains("cloud_init") ? (*spec)["cloud_init"].value("pool", "") : "";
      unsigned flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                       VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
      if (virDomainUndefineFlags(domain->get(), flags) < 0 &&
          !(LastErrorIsUnsupportedFlags() && virDomainUndefine(domain->get()) == 0)) {
        return LastError("undefining domain " + name);
      }
      if (!seed_pool.empty()) {
        StatusOr<Volume> seed = LookupVolume(seed_pool + "/" + SeedVolumeName(name));
        if (seed.ok() && virStorageVolDelete(seed->get(), 0) < 0) {
          return LastError("deleting the cloud-init seed volume of domain " + name);
        }
      }
      return Status::Ok();
    }
    case Kind::kPool: {
      Pool pool(virStoragePoolLookupByName(c, name.c_str()));
      if (!pool) return LastError("looking up pool " + name);
      if (virStoragePoolIsActive(pool.get()) == 1 && virStoragePoolDestroy(pool.get()) < 0) {
        return LastError("stopping pool " + name);
      }
      if (virStoragePoolUndefine(pool.get()) < 0) return LastError("undefining pool " + name);
      return Status::Ok();
    }
    case Kind::kNetwork: {
      Network network(virNetworkLookupByName(c, name.c_str()));
      if (!network) return LastError("looking up network " + name);
      if (virNetworkIsActive(network.get()) == 1 && virNetworkDestroy(network.get()) < 0) {
        return LastError("stopping network " + name);
      }
      if (virNetworkUndefine(network.get()) < 0) return LastError("undefining network " + name);
      return Status::Ok();
    }
    case Kind::kVolume: {
      StatusOr<Volume> volume = LookupVolume(name);
      if (!volume.ok()) return volume.status();
      if (virStorageVolDelete(volume->get(), 0) < 0) return LastError("deleting volume " + name);
      return Status::Ok();
    }
    case Kind::kRbdImage:
    case Kind::kHost:
      break;
  }
  return Status::Internal("unknown kind");
}

Status LibvirtProvider::Start(const Step& step) {
  StatusOr<Domain> domain = LookupDomain(step.address.name);
  if (!domain.ok()) return domain.status();
  int state = 0;
  int reason = 0;
  virDomainGetState(domain->get(), &state, &reason, 0);
  if (state == VIR_DOMAIN_PAUSED) {
    if (virDomainResume(domain->get()) < 0)
      return LastError("resuming domain " + step.address.name);
    return Status::Ok();
  }
  if (virDomainIsActive(domain->get()) == 1) return Status::Ok();
  if (virDomainCreate(domain->get()) < 0) return LastError("starting domain " + step.address.name);
  return Status::Ok();
}

Status LibvirtProvider::Shutdown(const Step& step) {
  StatusOr<Domain> domain = LookupDomain(step.address.name);
  if (!domain.ok()) return domain.status();
  if (virDomainIsActive(domain->get()) != 1) return Status::Ok();
  // ACPI power button first; a guest that ignores it (or has no OS) is destroyed at the timeout.
  virDomainShutdown(domain->get());
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::seconds(step.args.value("timeout_seconds", 60));
  while (std::chrono::steady_clock::now() < deadline) {
    if (virDomainIsActive(domain->get()) != 1) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (virDomainIsActive(domain->get()) == 1 && virDomainDestroy(domain->get()) < 0) {
    return LastError("forcing off domain " + step.address.name);
  }
  return Status::Ok();
}

Status LibvirtProvider::SetAutostart(const Step& step) {
  const std::string& name = step.address.name;
  int value = step.args.value("autostart", false) ? 1 : 0;
  virConnectPtr c = conn_.get();
  int rc = -1;
  switch (step.address.kind) {
    case Kind::kDomain: {
      Domain domain(virDomainLookupByName(c, name.c_str()));
      rc = domain ? virDomainSetAutostart(domain.get(), value) : -1;
      break;
    }
    case Kind::kPool: {
      Pool pool(virStoragePoolLookupByName(c, name.c_str()));
      rc = pool ? virStoragePoolSetAutostart(pool.get(), value) : -1;
      break;
    }
    case Kind::kNetwork: {
      Network network(virNetworkLookupByName(c, name.c_str()));
      rc = network ? virNetworkSetAutostart(network.get(), value) : -1;
      break;
    }
    case Kind::kVolume:
    case Kind::kRbdImage:
    case Kind::kHost:
      return Status::InvalidArgument("volumes, images and hosts have no autostart");
  }
  if (rc < 0) return LastError("setting autostart of " + step.address.ToString());
  return Status::Ok();
}

Status LibvirtProvider::ResizeVolume(const Step& step) {
  StatusOr<Volume> volume = LookupVolume(step.address.name);
  if (!volume.ok()) return volume.status();
  StatusOr<std::uint64_t> bytes = ArgBytes(step, "bytes");
  if (!bytes.ok()) return bytes.status();
  // Shrinking needs its own flag: the plan sets allow_shrink only for an allowed destructive
  // change.
  unsigned flags = step.args.value("allow_shrink", false) ? VIR_STORAGE_VOL_RESIZE_SHRINK : 0;
  if (virStorageVolResize(volume->get(), *bytes, flags) < 0) {
    return LastError("resizing volume " + step.address.name);
  }
  return Status::Ok();
}

Status LibvirtProvider::BlockResize(const Step& step) {
  StatusOr<Domain> domain = LookupDomain(step.address.name);
  if (!domain.ok()) return domain.status();
  StatusOr<std::uint64_t> bytes = ArgBytes(step, "bytes");
  if (!bytes.ok()) return bytes.status();
  std::string target = step.args.value("target", "");
  if (virDomainBlockResize(domain->get(), target.c_str(), *bytes, VIR_DOMAIN_BLOCK_RESIZE_BYTES) <
      0) {
    return LastError("resizing disk " + target + " of domain " + step.address.name);
  }
  return Status::Ok();
}

}  // namespace vc::libvirt

namespace vc::libvirt {

Status LibvirtProvider::SetVcpusLive(const Step& step) {
  StatusOr<Domain> domain = LookupDomain(step.address.name);
  if (!domain.ok()) return domain.status();
  unsigned count = step.args.value("vcpus", 1u);
  if (virDomainSetVcpusFlags(domain->get(), count, VIR_DOMAIN_AFFECT_LIVE) < 0) {
    return LastError("hot-plugging vCPUs of domain " + step.address.name);
  }
  return Status::Ok();
}

Status LibvirtProvider::SetMemoryLive(const Step& step) {
  StatusOr<Domain> domain = LookupDomain(step.address.name);
  if (!domain.ok()) return domain.status();
  StatusOr<std::uint64_t> bytes = ArgBytes(step, "bytes");
  if (!bytes.ok()) return bytes.status();
  std::uint64_t kib = *bytes / 1024;
  if (virDomainSetMemoryFlags(domain->get(), kib, VIR_DOMAIN_AFFECT_LIVE) < 0) {
    return LastError("setting the balloon of domain " + step.address.name);
  }
  // The balloon moves as the guest's driver gives memory back: wait for it, so verification sees
  // the result rather than the request.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kDeviceTimeoutSeconds);
  while (std::chrono::steady_clock::now() < deadline) {
    virDomainInfo info;
    if (virDomainGetInfo(domain->get(), &info) == 0 && info.memory == kib) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return Status::Unavailable("domain " + step.address.name +
                             ": the guest did not follow the balloon to " + FormatSize(*bytes) +
                             " within " + std::to_string(kDeviceTimeoutSeconds) +
                             " s (no balloon driver?)")
      .WithErrorCode(ErrorCode::kOperationFailed);  // the guest's doing, not the daemon's
}

Status LibvirtProvider::AttachLive(const Step& step, const std::string& device_xml) {
  StatusOr<Domain> domain = LookupDomain(step.address.name);
  if (!domain.ok()) return domain.status();
  if (virDomainAttachDeviceFlags(domain->get(), device_xml.c_str(), VIR_DOMAIN_AFFECT_LIVE) < 0) {
    return LastError(step.Describe());
  }
  return Status::Ok();
}

Status LibvirtProvider::DetachLive(const Step& step) {
  StatusOr<Domain> domain = LookupDomain(step.address.name);
  if (!domain.ok()) return domain.status();
  const bool disk = step.op == Step::Op::kDetachDiskLive;
  const std::string key = disk ? step.args.value("target", "") : step.args.value("mac", "");
  auto find = [&]() -> std::optional<std::string> {
    std::string xml = AdoptString(virDomainGetXMLDesc(domain->get(), 0));
    return disk ? FindDiskXml(xml, key) : FindInterfaceXml(xml, key);
  };
  std::optional<std::string> device = find();
  if (!device) return Status::Ok();  // already gone
  if (virDomainDetachDeviceFlags(domain->get(), device->c_str(), VIR_DOMAIN_AFFECT_LIVE) < 0) {
    return LastError(step.Describe());
  }
  // libvirt reports success once it has asked the guest; the device is gone only when the guest
  // has released it. Re-read until it is.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kDeviceTimeoutSeconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!find()) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return Status::Unavailable(step.Describe() + ": the guest did not release it within " +
                             std::to_string(kDeviceTimeoutSeconds) +
                             " s; it is still attached to the running guest (the persistent config "
                             "no longer has it)")
      .WithErrorCode(ErrorCode::kOperationFailed);
}

}  // namespace vc::libvirt
