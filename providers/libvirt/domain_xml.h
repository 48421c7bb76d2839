// Domain XML <-> the engine's domain fields. Reading takes only what the document can declare;
// writing a config into an existing domain changes only the declared parts and keeps everything
// libvirt filled in (UUID, PCI addresses, controllers, generated MACs).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/resource.h"
#include "engine/status.h"

namespace vc::libvirt {

/// Maps a volume's file path to its "<pool>/<volume>" key; nullopt when it is not a known volume.
using VolumeByPath = std::function<std::optional<std::string>(const std::string& path)>;

/// A bare <cpu> element (libvirt's baseline) in the document's form: {"mode": "custom", "model",
/// "require"?, "disable"?}. InvalidArgument when it names no custom model.
StatusOr<Json> CpuSpecFromXml(std::string_view cpu_xml);

/// Domain fields read from domain XML (persistent or live). State and autostart are not in the
/// XML and are left to the caller. Sets *managed when the XML carries the mark. A snapshot record
/// that is not what virtconverge writes (RecordedSnapshots) lists no snapshots and, when
/// `snapshot_record_error` is given, is said there: a fact of the domain, not a failure of the
/// read.
StatusOr<Json> ReadDomainXml(std::string_view xml, const VolumeByPath& volume_by_path,
                             bool* managed, std::string* snapshot_record_error = nullptr);

/// How domains reach a Ceph cluster: its monitors, the cephx user, and the libvirt secret that
/// holds the user's key (created on first use; the key never appears in XML or output).
struct CephDiskAccess {
  std::vector<std::pair<std::string, int>> monitors;
  std::string user;
  std::function<StatusOr<std::string>()> secret_uuid;
};

struct DomainXmlContext {
  std::string virt_type;  // "kvm", "qemu" or "test": used when the document declares none
  /// The format ("qcow2", "raw") of a volume, for the disk driver element.
  std::function<StatusOr<std::string>(const std::string& volume_key)> volume_format;
  /// Recognises file and block disks that are libvirt volumes, so they are not added twice.
  VolumeByPath volume_by_path;
  /// Set when the documents have a ceph: section; RBD disks need it.
  std::optional<CephDiskAccess> ceph;
};

/// XML for a new domain: the declared hardware, the ownership mark, and the headroom hot-plug
/// needs (maxMemory slots and a NUMA cell when max_memory > memory).
StatusOr<std::string> NewDomainXml(const std::string& name, const Json& desired,
                                   const DomainXmlContext& context);

/// What live changes need to know of a running domain, from its live XML: memory_total (boot
/// memory plus DIMMs, the balloon ceiling), memory_slots, memory_slots_used, hotplug_max_memory.
StatusOr<Json> ReadDomainFacts(std::string_view live_xml);

/// The total size of the memory devices (DIMMs) in domain XML; 0 when it has none.
std::uint64_t ConfigDimmBytes(std::string_view xml);

/// The libvirt secret an RBD disk of domain XML authenticates with.
struct RbdDiskSecret {
  std::string target;
  std::string uuid;
  std::string user;  // the cephx user, without "client."
};
std::vector<RbdDiskSecret> RbdDiskSecrets(std::string_view xml);

/// Device XML for live attach and detach.
StatusOr<std::string> DiskDeviceXml(const Json& disk, const DomainXmlContext& context);
std::string InterfaceDeviceXml(const Json& nic);
std::string DimmDeviceXml(std::uint64_t bytes);

/// The device element (serialised) of the disk with target `target`, or of the interface with
/// MAC `mac`, in `xml`; nullopt when there is none.
std::optional<std::string> FindDiskXml(std::string_view xml, const std::string& target);
std::optional<std::string> FindInterfaceXml(std::string_view xml, const std::string& mac);

/// `existing` (persistent XML) with the declared hardware of `desired` written into it.
StatusOr<std::string> MergeDomainXml(std::string_view existing, const Json& desired,
                                     const DomainXmlContext& context);

}  // namespace vc::libvirt
