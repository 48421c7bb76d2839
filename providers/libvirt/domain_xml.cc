#include "providers/libvirt/domain_xml.h"

#include <algorithm>
#include <cstring>
#include <pugixml.hpp>
#include <set>
#include <sstream>

#include "engine/cloud_init.h"
#include "engine/domain_rules.h"
#include "engine/size.h"
#include "providers/libvirt/snapshot.h"
#include "providers/libvirt/xml_util.h"

namespace vc::libvirt {
namespace {

constexpr int kMemorySlots = 16;

std::uint64_t Kib(std::uint64_t bytes) { return bytes / 1024; }

// A disk reading a snapshot overlay ("/pool/root@s1", providers/libvirt/snapshot.h) is the
// volume at the bottom of its chain ("/pool/root"): names never hold '@'.
std::string VolumeUnderSnapshots(std::string path) {
  const std::size_t slash = path.rfind('/');
  const std::size_t at = path.find('@', slash == std::string::npos ? 0 : slash);
  if (at != std::string::npos) path.resize(at);
  return path;
}

// What a disk element is backed by, as the document writes it: {"volume": "<pool>/<volume>"}
// (a volume, or a file or block device that is a libvirt volume) or {"rbd": "<pool>/<image>"};
// nullopt for CD-ROMs, other network disks and files that are not libvirt volumes.
std::optional<Json> DiskSource(const pugi::xml_node& disk, const VolumeByPath& volume_by_path) {
  if (std::strcmp(disk.attribute("device").as_string("disk"), "disk") != 0) return std::nullopt;
  std::string type = disk.attribute("type").as_string();
  pugi::xml_node source = disk.child("source");
  if (type == "volume") {
    return Json{{"volume", std::string(source.attribute("pool").as_string()) + "/" +
                               source.attribute("volume").as_string()}};
  }
  if (type == "network" && std::strcmp(source.attribute("protocol").as_string(), "rbd") == 0) {
    return Json{{"rbd", source.attribute("name").as_string()}};
  }
  std::optional<std::string> volume;
  if (volume_by_path && type == "file")
    volume = volume_by_path(VolumeUnderSnapshots(source.attribute("file").as_string()));
  if (volume_by_path && type == "block")
    volume = volume_by_path(source.attribute("dev").as_string());
  if (!volume) return std::nullopt;
  return Json{{"volume", *volume}};
}

// A disk element as the document writes it ({"volume"|"rbd", "target", "bus"?, "discard"?}), or
// nullopt when it is not on a volume or RBD image (not something the document manages).
std::optional<Json> DiskEntry(const pugi::xml_node& disk, const VolumeByPath& volume_by_path) {
  std::optional<Json> entry = DiskSource(disk, volume_by_path);
  if (!entry) return std::nullopt;
  (*entry)["target"] = disk.child("target").attribute("dev").as_string();
  std::string bus = disk.child("target").attribute("bus").as_string();
  if (bus == "virtio" || bus == "sata" || bus == "scsi") (*entry)["bus"] = bus;
  std::string discard = disk.child("driver").attribute("discard").as_string("ignore");
  if (discard == "unmap" || discard == "ignore") (*entry)["discard"] = discard;
  return entry;
}

Json ReadDisks(const pugi::xml_node& devices, const VolumeByPath& volume_by_path) {
  Json disks = Json::array();
  for (pugi::xml_node disk : devices.children("disk")) {
    if (std::optional<Json> entry = DiskEntry(disk, volume_by_path)) disks.push_back(*entry);
  }
  std::sort(disks.begin(), disks.end(),
            [](const Json& a, const Json& b) { return a["target"] < b["target"]; });
  return disks;
}

Json ReadInterfaces(const pugi::xml_node& devices) {
  Json nics = Json::array();
  for (pugi::xml_node nic : devices.children("interface")) {
    if (std::strcmp(nic.attribute("type").as_string(), "network") != 0) continue;
    Json entry = {{"network", nic.child("source").attribute("network").as_string()}};
    if (pugi::xml_node mac = nic.child("mac"))
      entry["mac"] = Lower(mac.attribute("address").as_string());
    std::string model = nic.child("model").attribute("type").as_string();
    if (model == "virtio" || model == "e1000" || model == "rtl8139") entry["model"] = model;
    nics.push_back(entry);
  }
  return nics;
}

void SetMemoryElement(pugi::xml_node domain, const char* name, std::uint64_t bytes) {
  pugi::xml_node node = Child(domain, name);
  node.remove_attributes();
  node.append_attribute("unit") = "KiB";
  node.text() = std::to_string(Kib(bytes)).c_str();
}

void AppendDisk(pugi::xml_node devices, const Json& disk, const std::string& format) {
  std::string volume = disk.at("volume");
  std::size_t slash = volume.find('/');
  pugi::xml_node node = devices.append_child("disk");
  node.append_attribute("type") = "volume";
  node.append_attribute("device") = "disk";
  pugi::xml_node driver = node.append_child("driver");
  driver.append_attribute("name") = "qemu";
  driver.append_attribute("type") = format.c_str();
  // Thin volumes by default: blocks the guest frees are freed in the image too.
  driver.append_attribute("discard") = disk.value("discard", "unmap").c_str();
  pugi::xml_node source = node.append_child("source");
  source.append_attribute("pool") = volume.substr(0, slash).c_str();
  source.append_attribute("volume") = volume.substr(slash + 1).c_str();
  pugi::xml_node target = node.append_child("target");
  target.append_attribute("dev") = disk.at("target").get<std::string>().c_str();
  target.append_attribute("bus") = disk.value("bus", "virtio").c_str();
}

// An RBD image as a network disk, authenticated with the libvirt secret holding the cephx key
// (the key itself never appears in the XML).
Status AppendRbdDisk(pugi::xml_node devices, const Json& disk, const DomainXmlContext& context) {
  if (!context.ceph) {
    return Status::InvalidArgument("disk " + disk.value("target", "") +
                                   " is an RBD image but no ceph: section is configured");
  }
  StatusOr<std::string> secret = context.ceph->secret_uuid();
  if (!secret.ok()) return secret.status();
  pugi::xml_node node = devices.append_child("disk");
  node.append_attribute("type") = "network";
  node.append_attribute("device") = "disk";
  pugi::xml_node driver = node.append_child("driver");
  driver.append_attribute("name") = "qemu";
  driver.append_attribute("type") = "raw";
  driver.append_attribute("cache") = "writeback";
  driver.append_attribute("discard") = disk.value("discard", "unmap").c_str();
  pugi::xml_node auth = node.append_child("auth");
  auth.append_attribute("username") = context.ceph->user.c_str();
  pugi::xml_node secret_node = auth.append_child("secret");
  secret_node.append_attribute("type") = "ceph";
  secret_node.append_attribute("uuid") = secret->c_str();
  pugi::xml_node source = node.append_child("source");
  source.append_attribute("protocol") = "rbd";
  source.append_attribute("name") = disk.at("rbd").get<std::string>().c_str();
  for (const auto& [host, port] : context.ceph->monitors) {
    pugi::xml_node h = source.append_child("host");
    h.append_attribute("name") = host.c_str();
    h.append_attribute("port") = std::to_string(port).c_str();
  }
  pugi::xml_node target = node.append_child("target");
  target.append_attribute("dev") = disk.at("target").get<std::string>().c_str();
  target.append_attribute("bus") = disk.value("bus", "virtio").c_str();
  return Status::Ok();
}

Status AppendAnyDisk(pugi::xml_node devices, const Json& disk, const DomainXmlContext& context) {
  if (disk.contains("rbd")) return AppendRbdDisk(devices, disk, context);
  StatusOr<std::string> format = context.volume_format(disk.at("volume"));
  if (!format.ok()) return format.status();
  AppendDisk(devices, disk, *format);
  return Status::Ok();
}

void AppendInterface(pugi::xml_node devices, const Json& nic, const std::string& keep_mac) {
  pugi::xml_node node = devices.append_child("interface");
  node.append_attribute("type") = "network";
  std::string mac = nic.value("mac", keep_mac);
  if (!mac.empty()) node.append_child("mac").append_attribute("address") = mac.c_str();
  node.append_child("source").append_attribute("network") =
      nic.at("network").get<std::string>().c_str();
  node.append_child("model").append_attribute("type") = nic.value("model", "virtio").c_str();
}

// Rewrites the volume and RBD disks of `devices` to `disks`. A disk already present that is the
// same device (SameDisk, the engine's one definition) is kept as it is, with its PCI address;
// others are removed or added.
Status WriteDisks(pugi::xml_node devices, const Json& disks, const DomainXmlContext& context) {
  std::vector<pugi::xml_node> remove;
  Json missing = disks;
  for (pugi::xml_node disk : devices.children("disk")) {
    std::optional<Json> entry = DiskEntry(disk, context.volume_by_path);
    if (!entry) continue;  // not on a volume or RBD image: not ours to change
    auto match = std::find_if(missing.begin(), missing.end(),
                              [&](const Json& d) { return SameDisk(d, *entry); });
    if (match != missing.end()) {
      missing.erase(match);
    } else {
      remove.push_back(disk);
    }
  }
  for (pugi::xml_node node : remove) devices.remove_child(node);
  for (const Json& disk : missing) {
    if (Status s = AppendAnyDisk(devices, disk, context); !s.ok()) return s;
  }
  return Status::Ok();
}

// Rewrites the network interfaces of `devices` to `nics`, position by position. An interface on
// the same network keeps its element, and so its MAC and PCI address.
void WriteInterfaces(pugi::xml_node devices, const Json& nics) {
  std::vector<pugi::xml_node> existing;
  for (pugi::xml_node nic : devices.children("interface")) {
    if (std::strcmp(nic.attribute("type").as_string(), "network") == 0) existing.push_back(nic);
  }
  for (std::size_t i = 0; i < existing.size(); ++i) {
    pugi::xml_node node = existing[i];
    bool keep = false;
    if (i < nics.size()) {
      const Json& want = nics[i];
      std::string mac = Lower(node.child("mac").attribute("address").as_string());
      keep = want.at("network") == node.child("source").attribute("network").as_string() &&
             want.value("mac", mac) == mac &&
             want.value("model", "virtio") ==
                 node.child("model").attribute("type").as_string("virtio");
    }
    if (!keep) {
      // A replacement on the same network keeps the MAC the guest already knows.
      std::string mac;
      if (i < nics.size() &&
          nics[i].at("network") == node.child("source").attribute("network").as_string()) {
        mac = Lower(node.child("mac").attribute("address").as_string());
      }
      devices.remove_child(node);
      if (i < nics.size()) AppendInterface(devices, nics[i], mac);
    }
  }
  for (std::size_t i = existing.size(); i < nics.size(); ++i) AppendInterface(devices, nics[i], "");
}

// Sets vCPUs and memory. Without <maxMemory>, max_memory is the balloon ceiling (<memory>) and
// memory the balloon target (<currentMemory>). With <maxMemory> (hot-plug headroom), max_memory is
// <maxMemory> and memory the boot memory, kept in the single NUMA cell.
Status WriteCpuAndMemory(pugi::xml_node domain, const Json& desired) {
  if (desired.contains("vcpus") || desired.contains("max_vcpus")) {
    pugi::xml_node vcpu = Child(domain, "vcpu");
    int old_max = vcpu.text().as_int(1);
    int current = desired.value("vcpus", vcpu.attribute("current").as_int(old_max));
    int max = desired.value("max_vcpus", std::max(old_max, current));
    vcpu.text() = std::to_string(max).c_str();
    if (!vcpu.attribute("placement")) vcpu.append_attribute("placement") = "static";
    SetAttribute(vcpu, "current", std::to_string(current));
    if (max != old_max) domain.remove_child("vcpus");  // per-vCPU states no longer fit
    for (pugi::xml_node cell : domain.child("cpu").child("numa").children("cell")) {
      SetAttribute(cell, "cpus", max == 1 ? std::string("0") : "0-" + std::to_string(max - 1));
    }
  }
  if (desired.contains("memory") || desired.contains("max_memory")) {
    pugi::xml_node max_node = domain.child("maxMemory");
    std::uint64_t old_memory = ReadMemory(domain.child("memory")).value_or(0);
    std::uint64_t old_current = ReadMemory(domain.child("currentMemory")).value_or(old_memory);
    std::uint64_t memory = desired.contains("memory")
                               ? ParseSize(desired["memory"].get<std::string>()).value()
                               : old_current;
    if (max_node) {
      std::uint64_t max = desired.contains("max_memory")
                              ? ParseSize(desired["max_memory"].get<std::string>()).value()
                              : std::max(memory, ReadMemory(max_node).value_or(memory));
      SetMemoryElement(domain, "maxMemory", max);
      SetAttribute(max_node, "slots", max_node.attribute("slots").as_string("16"));
      std::uint64_t dimms = 0;
      for (pugi::xml_node dimm : domain.child("devices").children("memory")) {
        dimms += ReadMemory(dimm.child("target").child("size")).value_or(0);
      }
      if (memory <= dimms) {
        return Status::InvalidArgument("memory " + FormatSize(memory) +
                                       " is not more than the hot-plugged DIMMs (" +
                                       FormatSize(dimms) + ")");
      }
      pugi::xml_node cells = domain.child("cpu").child("numa");
      if (std::distance(cells.children("cell").begin(), cells.children("cell").end()) == 1) {
        pugi::xml_node cell = cells.child("cell");
        SetAttribute(cell, "memory", std::to_string(Kib(memory - dimms)));
        SetAttribute(cell, "unit", "KiB");
      }
      SetMemoryElement(domain, "memory", memory);
      SetMemoryElement(domain, "currentMemory", memory);
    } else {
      std::uint64_t max = desired.contains("max_memory")
                              ? ParseSize(desired["max_memory"].get<std::string>()).value()
                              : std::max(memory, old_memory);
      SetMemoryElement(domain, "memory", max);
      SetMemoryElement(domain, "currentMemory", memory);
    }
  }
  return Status::Ok();
}

// Sets <cpu mode=...> (and <model> for custom), keeping a <numa> child.
void WriteCpu(pugi::xml_node domain, const Json& cpu) {
  pugi::xml_node node = domain.child("cpu");
  if (!node && domain.child("features"))
    node = domain.insert_child_after("cpu", domain.child("features"));
  if (!node) node = domain.append_child("cpu");
  node.remove_attributes();
  node.remove_child("model");
  node.remove_child("vendor");
  while (node.child("feature")) node.remove_child("feature");
  std::string mode = cpu.at("mode");
  node.append_attribute("mode") = mode.c_str();
  if (mode == "custom") {
    node.append_attribute("match") = "exact";
    pugi::xml_node model = node.prepend_child("model");
    model.append_attribute("fallback") = "forbid";
    model.text() = cpu.at("model").get<std::string>().c_str();
    pugi::xml_node after = model;
    for (const char* policy : {"require", "disable"}) {
      for (const Json& name : cpu.value(policy, Json::array())) {
        after = node.insert_child_after("feature", after);
        after.append_attribute("policy") = policy;
        after.append_attribute("name") = name.get<std::string>().c_str();
      }
    }
  }
}

std::optional<Json> ReadCpu(pugi::xml_node domain) {
  pugi::xml_node cpu = domain.child("cpu");
  if (!cpu) return std::nullopt;
  std::string model = cpu.child("model").text().as_string();
  std::string mode = cpu.attribute("mode").as_string(model.empty() ? "" : "custom");
  if (mode == "host-model" || mode == "host-passthrough") return Json{{"mode", mode}};
  if (mode != "custom" || model.empty()) return std::nullopt;
  Json out{{"mode", "custom"}, {"model", model}};
  std::set<std::string> require;
  std::set<std::string> disable;
  for (pugi::xml_node f : cpu.children("feature")) {
    const std::string policy = f.attribute("policy").as_string("require");
    if (policy == "require" || policy == "force") require.insert(f.attribute("name").as_string());
    if (policy == "disable" || policy == "forbid") disable.insert(f.attribute("name").as_string());
  }
  if (!require.empty()) out["require"] = require;
  if (!disable.empty()) out["disable"] = disable;
  return out;
}
}  // namespace

StatusOr<Json> CpuSpecFromXml(std::string_view cpu_xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(cpu_xml.data(), cpu_xml.size()))
    return Status::Internal("unreadable CPU XML");
  std::optional<Json> cpu = ReadCpu(doc);
  if (!cpu || cpu->value("mode", "") != "custom")
    return Status::InvalidArgument("the CPU names no model");
  return *cpu;
}

// memory_sharing: false is <memoryBacking><nosharepages/>: QEMU then marks none of the guest's
// memory mergeable, so KSM leaves it alone. Only a declared value is written.
static void WriteMemorySharing(pugi::xml_node domain, const Json& desired) {
  if (!desired.contains("memory_sharing")) return;
  pugi::xml_node backing = domain.child("memoryBacking");
  if (desired["memory_sharing"].get<bool>()) {
    if (backing) {
      backing.remove_child("nosharepages");
      if (!backing.first_child()) domain.remove_child(backing);
    }
    return;
  }
  if (!backing.child("nosharepages")) Child(domain, "memoryBacking").append_child("nosharepages");
}

// The cloud-init seed CD-ROM of domain `name`: a cdrom disk whose source is the volume
// <pool>/<name>-cidata.iso (as a volume source, or as that volume's file).
static std::optional<std::pair<std::string, std::string>> SeedPool(
    pugi::xml_node devices, const std::string& name, const VolumeByPath& volume_by_path) {
  const std::string volume = SeedVolumeName(name);
  for (pugi::xml_node disk : devices.children("disk")) {
    if (std::string_view(disk.attribute("device").as_string()) != "cdrom") continue;
    pugi::xml_node source = disk.child("source");
    const std::string bus = disk.child("target").attribute("bus").as_string();
    if (std::string_view(disk.attribute("type").as_string()) == "volume" &&
        volume == source.attribute("volume").as_string()) {
      return std::make_pair(std::string(source.attribute("pool").as_string()), bus);
    }
    if (source.attribute("file") && volume_by_path) {
      std::optional<std::string> key = volume_by_path(source.attribute("file").as_string());
      if (key && key->size() > volume.size() && key->ends_with("/" + volume)) {
        return std::make_pair(key->substr(0, key->size() - volume.size() - 1), bus);
      }
    }
  }
  return std::nullopt;
}

// Writes the seed CD-ROM of `desired`'s cloud_init (read-only, SATA, raw), replacing the one the
// domain has; removes it when cloud_init is no longer declared but the domain has one.
static void WriteSeedCdrom(pugi::xml_node devices, const std::string& name, const Json& desired,
                           const VolumeByPath& volume_by_path) {
  const std::string volume = SeedVolumeName(name);
  std::set<std::string> taken;
  std::vector<pugi::xml_node> remove;
  for (pugi::xml_node disk : devices.children("disk")) {
    bool ours = false;
    if (std::string_view(disk.attribute("device").as_string()) == "cdrom") {
      pugi::xml_node source = disk.child("source");
      ours = volume == source.attribute("volume").as_string();
      if (!ours && source.attribute("file") && volume_by_path) {
        std::optional<std::string> key = volume_by_path(source.attribute("file").as_string());
        ours = key && key->ends_with("/" + volume);
      }
    }
    if (ours) {
      remove.push_back(disk);
    } else {
      taken.insert(disk.child("target").attribute("dev").as_string());
    }
  }
  if (!desired.contains("cloud_init")) return;  // not declared: what the domain has stays
  for (pugi::xml_node disk : remove) devices.remove_child(disk);
  for (const Json& disk : desired.value("disks", Json::array())) {
    taken.insert(disk.value("target", ""));
  }
  const std::string bus = desired["cloud_init"].value("bus", "sata");
  std::string target = bus == "ide" ? "hda" : "sda";
  while (taken.count(target) && target[2] < 'z') ++target[2];
  pugi::xml_node node = devices.append_child("disk");
  node.append_attribute("type") = "volume";
  node.append_attribute("device") = "cdrom";
  pugi::xml_node driver = node.append_child("driver");
  driver.append_attribute("name") = "qemu";
  driver.append_attribute("type") = "raw";
  pugi::xml_node source = node.append_child("source");
  source.append_attribute("pool") = desired["cloud_init"].value("pool", "").c_str();
  source.append_attribute("volume") = volume.c_str();
  pugi::xml_node t = node.append_child("target");
  t.append_attribute("dev") = target.c_str();
  t.append_attribute("bus") = bus.c_str();
  node.append_child("readonly");
}

StatusOr<Json> ReadDomainXml(std::string_view xml, const VolumeByPath& volume_by_path,
                             bool* managed, std::string* snapshot_record_error) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) return Status::Internal("unreadable domain XML");
  pugi::xml_node domain = doc.child("domain");
  Json spec = Json::object();
  pugi::xml_node vcpu = domain.child("vcpu");
  int max_vcpus = vcpu.text().as_int(1);
  spec["max_vcpus"] = max_vcpus;
  spec["vcpus"] = vcpu.attribute("current").as_int(max_vcpus);
  std::optional<std::uint64_t> memory = ReadMemory(domain.child("memory"));
  std::optional<std::uint64_t> current = ReadMemory(domain.child("currentMemory"));
  std::optional<std::uint64_t> hotplug_max = ReadMemory(domain.child("maxMemory"));
  if (current.value_or(memory.value_or(0)) > 0)
    spec["memory"] = FormatSize(current.value_or(*memory));
  if (hotplug_max.value_or(memory.value_or(0)) > 0) {
    spec["max_memory"] = FormatSize(hotplug_max.value_or(*memory));
  }
  std::string type = domain.attribute("type").as_string();
  if (type == "kvm" || type == "qemu") spec["virt_type"] = type;
  if (std::optional<Json> cpu = ReadCpu(domain)) spec["cpu"] = *cpu;
  spec["memory_sharing"] = !domain.child("memoryBacking").child("nosharepages");
  spec["disks"] = ReadDisks(domain.child("devices"), volume_by_path);
  spec["interfaces"] = ReadInterfaces(domain.child("devices"));
  // Only where the seed is: its content is the volume's, which the provider reads.
  if (auto seed = SeedPool(domain.child("devices"), domain.child("name").text().as_string(),
                           volume_by_path)) {
    spec["cloud_init"] = {{"pool", seed->first}, {"bus", seed->second}};
  }
  StatusOr<std::vector<std::string>> snapshots = RecordedSnapshots(domain);
  if (snapshots.ok() && !snapshots->empty()) spec["snapshots"] = *snapshots;
  if (!snapshots.ok() && snapshot_record_error != nullptr)
    *snapshot_record_error = snapshots.status().message();
  *managed = HasMark(domain);
  return spec;
}

StatusOr<std::string> NewDomainXml(const std::string& name, const Json& desired,
                                   const DomainXmlContext& context) {
  pugi::xml_document doc;
  pugi::xml_node domain = doc.append_child("domain");
  domain.append_attribute("type") = desired.value("virt_type", context.virt_type).c_str();
  domain.append_child("name").text() = name.c_str();
  AddMark(domain);

  std::uint64_t memory = ParseSize(desired.at("memory").get<std::string>()).value();
  std::uint64_t max_memory = desired.contains("max_memory")
                                 ? ParseSize(desired["max_memory"].get<std::string>()).value()
                                 : memory;
  int vcpus = desired.at("vcpus");
  int max_vcpus = desired.value("max_vcpus", vcpus);
  bool hotplug_memory = max_memory > memory && context.virt_type != "test";
  if (hotplug_memory) {
    pugi::xml_node max = domain.append_child("maxMemory");
    max.append_attribute("slots") = kMemorySlots;
    max.append_attribute("unit") = "KiB";
    max.text() = std::to_string(Kib(max_memory)).c_str();
  }
  SetMemoryElement(domain, "memory", hotplug_memory ? memory : max_memory);
  SetMemoryElement(domain, "currentMemory", memory);
  pugi::xml_node vcpu = domain.append_child("vcpu");
  vcpu.append_attribute("placement") = "static";
  vcpu.append_attribute("current") = vcpus;
  vcpu.text() = std::to_string(max_vcpus).c_str();

  pugi::xml_node os = domain.append_child("os");
  pugi::xml_node os_type = os.append_child("type");
  if (context.virt_type != "test") {
    os_type.append_attribute("arch") = "x86_64";
    os_type.append_attribute("machine") = "pc";
  }
  os_type.text() = "hvm";
  os.append_child("boot").append_attribute("dev") = "hd";
  pugi::xml_node features = domain.append_child("features");
  features.append_child("acpi");
  features.append_child("apic");
  if (desired.contains("cpu")) WriteCpu(domain, desired["cpu"]);
  WriteMemorySharing(domain, desired);
  if (hotplug_memory) {
    // DIMM hot-add needs a NUMA topology; one cell holding every vCPU and the boot memory.
    pugi::xml_node cell = Child(Child(domain, "cpu"), "numa").append_child("cell");
    cell.append_attribute("id") = 0;
    cell.append_attribute("cpus") =
        (max_vcpus == 1 ? std::string("0") : "0-" + std::to_string(max_vcpus - 1)).c_str();
    cell.append_attribute("memory") = std::to_string(Kib(memory)).c_str();
    cell.append_attribute("unit") = "KiB";
  }
  domain.append_child("on_poweroff").text() = "destroy";
  domain.append_child("on_reboot").text() = "restart";
  domain.append_child("on_crash").text() = "destroy";
  pugi::xml_node devices = domain.append_child("devices");
  if (Status s = WriteDisks(devices, desired.value("disks", Json::array()), context); !s.ok()) {
    return s;
  }
  WriteInterfaces(devices, desired.value("interfaces", Json::array()));
  WriteSeedCdrom(devices, name, desired, context.volume_by_path);
  if (context.virt_type != "test") {
    pugi::xml_node usb = devices.append_child("controller");
    usb.append_attribute("type") = "usb";
    usb.append_attribute("model") = "none";
    devices.append_child("memballoon").append_attribute("model") = "virtio";
  }
  return ToString(doc);
}

StatusOr<std::string> MergeDomainXml(std::string_view existing, const Json& desired,
                                     const DomainXmlContext& context) {
  pugi::xml_document doc;
  if (!doc.load_buffer(existing.data(), existing.size())) {
    return Status::Internal("unreadable domain XML");
  }
  pugi::xml_node domain = doc.child("domain");
  if (desired.contains("virt_type")) {
    SetAttribute(domain, "type", desired["virt_type"].get<std::string>());
  }
  if (Status s = WriteCpuAndMemory(domain, desired); !s.ok()) return s;
  if (desired.contains("cpu")) WriteCpu(domain, desired["cpu"]);
  WriteMemorySharing(domain, desired);
  pugi::xml_node devices = Child(domain, "devices");
  if (desired.contains("disks")) {
    if (Status s = WriteDisks(devices, desired["disks"], context); !s.ok()) return s;
  }
  if (desired.contains("interfaces")) WriteInterfaces(devices, desired["interfaces"]);
  WriteSeedCdrom(devices, domain.child("name").text().as_string(), desired, context.volume_by_path);
  return ToString(doc);
}

}  // namespace vc::libvirt

namespace vc::libvirt {

StatusOr<Json> ReadDomainFacts(std::string_view live_xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(live_xml.data(), live_xml.size()))
    return Status::Internal("unreadable domain XML");
  pugi::xml_node domain = doc.child("domain");
  Json facts = Json::object();
  if (std::optional<std::uint64_t> total = ReadMemory(domain.child("memory"));
      total && *total > 0) {
    facts["memory_total"] = FormatSize(*total);
  }
  pugi::xml_node max = domain.child("maxMemory");
  facts["memory_slots"] = max.attribute("slots").as_int(0);
  if (std::optional<std::uint64_t> ceiling = ReadMemory(max); ceiling && *ceiling > 0) {
    facts["hotplug_max_memory"] = FormatSize(*ceiling);
  }
  int dimms = 0;
  for (pugi::xml_node m : domain.child("devices").children("memory")) {
    dimms += std::strcmp(m.attribute("model").as_string(), "dimm") == 0;
  }
  facts["memory_slots_used"] = dimms;
  // Whether a guest agent listens (its virtio channel connected): then a snapshot is quiesced.
  facts["guest_agent"] = "none";
  for (pugi::xml_node channel : domain.child("devices").children("channel")) {
    pugi::xml_node target = channel.child("target");
    if (std::string_view(target.attribute("name").as_string()) == "org.qemu.guest_agent.0") {
      facts["guest_agent"] = target.attribute("state").as_string("disconnected");
    }
  }
  return facts;
}

std::uint64_t ConfigDimmBytes(std::string_view xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) return 0;
  std::uint64_t dimms = 0;
  for (pugi::xml_node dimm : doc.child("domain").child("devices").children("memory")) {
    dimms += ReadMemory(dimm.child("target").child("size")).value_or(0);
  }
  return dimms;
}

std::vector<RbdDiskSecret> RbdDiskSecrets(std::string_view xml) {
  std::vector<RbdDiskSecret> out;
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) return out;
  for (pugi::xml_node disk : doc.child("domain").child("devices").children("disk")) {
    if (std::string_view(disk.child("source").attribute("protocol").as_string()) != "rbd") continue;
    pugi::xml_node auth = disk.child("auth");
    std::string uuid = auth.child("secret").attribute("uuid").as_string();
    if (uuid.empty()) continue;
    out.push_back({disk.child("target").attribute("dev").as_string(), uuid,
                   auth.attribute("username").as_string()});
  }
  return out;
}

StatusOr<std::string> DiskDeviceXml(const Json& disk, const DomainXmlContext& context) {
  pugi::xml_document doc;
  if (Status s = AppendAnyDisk(doc, disk, context); !s.ok()) return s;
  return ToString(doc);
}

std::string InterfaceDeviceXml(const Json& nic) {
  pugi::xml_document doc;
  AppendInterface(doc, nic, "");
  return ToString(doc);
}

std::string DimmDeviceXml(std::uint64_t bytes) {
  pugi::xml_document doc;
  pugi::xml_node memory = doc.append_child("memory");
  memory.append_attribute("model") = "dimm";
  pugi::xml_node target = memory.append_child("target");
  pugi::xml_node size = target.append_child("size");
  size.append_attribute("unit") = "KiB";
  size.text() = std::to_string(Kib(bytes)).c_str();
  target.append_child("node").text() = "0";
  return ToString(doc);
}

std::optional<std::string> FindDiskXml(std::string_view xml, const std::string& target) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) return std::nullopt;
  for (pugi::xml_node disk : doc.child("domain").child("devices").children("disk")) {
    if (target == disk.child("target").attribute("dev").as_string()) {
      pugi::xml_document one;
      one.append_copy(disk);
      return ToString(one);
    }
  }
  return std::nullopt;
}

std::optional<std::string> FindInterfaceXml(std::string_view xml, const std::string& mac) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) return std::nullopt;
  for (pugi::xml_node nic : doc.child("domain").child("devices").children("interface")) {
    if (Lower(nic.child("mac").attribute("address").as_string()) == Lower(mac)) {
      pugi::xml_document one;
      one.append_copy(nic);
      return ToString(one);
    }
  }
  return std::nullopt;
}

}  // namespace vc::libvirt
