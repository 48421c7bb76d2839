// The merged desired state written back as one canonical document (version 1), as a plan records
// it: parsing the output gives the same Document.
#pragma once

#include "engine/resource.h"

namespace vc {

/// {"version": 1, "connection"?, "ceph"?, "hosts"?, "<section>": {"<name>": {fields...,
/// "ensure"?}}}.
Json DocumentToJson(const Document& doc);

}  // namespace vc
