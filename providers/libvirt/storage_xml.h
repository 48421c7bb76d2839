// Storage pool and volume XML <-> the engine's pool and volume fields.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/resource.h"
#include "engine/status.h"

namespace vc::libvirt {

/// Pool fields from pool XML: type, path (dir), volume_group (logical). Other pool types give
/// only `type` when it is one the document knows, else an empty object.
StatusOr<Json> ReadPoolXml(std::string_view xml, std::string* uuid);

/// What an rbd pool needs: the Ceph monitors, the cephx user and the libvirt secret's UUID.
struct RbdPoolSource {
  std::vector<std::pair<std::string, int>> monitors;
  std::string user;
  std::string secret_uuid;
};

/// XML for a new pool with the given UUID (the ownership mark, see OwnershipUuid). `rbd` is
/// required for type rbd.
std::string NewPoolXml(const std::string& name, const Json& desired, const std::string& uuid,
                       const RbdPoolSource* rbd = nullptr);

/// XML for the libvirt secret holding the cephx key of `user` (the value is set separately).
std::string CephSecretXml(const std::string& uuid, const std::string& user);

struct VolumeXmlFields {
  Json spec;                 // format, capacity
  std::string backing_path;  // "" when the volume has no backing store
};
StatusOr<VolumeXmlFields> ReadVolumeXml(std::string_view xml);

/// XML for a new volume: thin (allocation 0) unless `fully_allocated` (LVM logical volumes,
/// where a thin LV would need dm-snapshot); a qcow2 overlay when backing_path is given.
std::string NewVolumeXml(const std::string& name, const Json& desired,
                         const std::string& backing_path, const std::string& backing_format,
                         bool fully_allocated = false);

/// A UUID derived from the kind and name: the ownership mark of pools, which have no metadata
/// element. A pool whose UUID equals OwnershipUuid("pool", name) was created by virtconverge.
std::string OwnershipUuid(std::string_view kind, std::string_view name);

}  // namespace vc::libvirt
