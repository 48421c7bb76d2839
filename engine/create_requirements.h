// What a resource must declare to be created. A document may declare an existing resource with
// only the fields it manages (just `vcpus`, just `autostart`); the fields a resource cannot exist
// without (a domain's vcpus and memory, a volume's capacity, an RBD image's size, a pool's type
// and where it lives) are needed only when the plan creates it (or replaces it), and the plan says
// so: "creating needs memory".
#pragma once

#include <string>
#include <vector>

#include "engine/resource.h"

namespace vc {

struct MissingField {
  std::string field;  // "memory"
  std::string why;    // "" or " (a dir pool needs a path)"
};

/// The fields `desired` lacks to be created, in a stable order; empty when it can be.
std::vector<MissingField> MissingToCreate(const DesiredResource& desired);

}  // namespace vc
