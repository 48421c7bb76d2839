// Observed state written back as a desired-state document: the import path. Planning the output
// against the same host shows no changes.
#pragma once

#include <string>

#include "engine/resource.h"

namespace vc {

/// The document (version 1) describing everything in `state`, as JSON.
Json ExportDocument(const ObservedState& state);

/// The same document as YAML, sections in the order a person would write them.
std::string ToYaml(const Json& document);

}  // namespace vc
