#include "engine/create_requirements.h"

namespace vc {

std::vector<MissingField> MissingToCreate(const DesiredResource& desired) {
  std::vector<MissingField> missing;
  const Json& spec = desired.spec;
  auto require = [&](const char* field, const char* why) {
    if (!spec.is_object() || !spec.contains(field)) missing.push_back({field, why});
  };
  switch (desired.address.kind) {
    case Kind::kPool: {
      require("type", "");
      const std::string type = spec.value("type", "");
      if (type == "dir") require("path", " (a dir pool needs a path)");
      if (type == "logical") require("volume_group", " (a logical pool needs a volume_group)");
      if (type == "rbd") require("ceph_pool", " (an rbd pool needs a ceph_pool)");
      break;
    }
    case Kind::kVolume:
      if (!spec.contains("backing_volume")) require("capacity", " (or backing_volume)");
      break;
    case Kind::kRbdImage:
      if (!spec.contains("clone_from")) require("size", " (or clone_from)");
      break;
    case Kind::kDomain:
      require("vcpus", "");
      require("memory", "");
      break;
    case Kind::kNetwork:  // still required by the document (a network is little more than them)
    case Kind::kHost:
      break;
  }
  return missing;
}

}  // namespace vc
