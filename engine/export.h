// Observed state written back as a desired-state document: the import path. Planning the output
// against the same host shows no changes.
#pragma once

#include <string>
#include <vector>

#include "engine/plan.h"
#include "engine/resource.h"

namespace vc {

/// The document (version 1) describing everything in `state`, as JSON. `ceph` (the ceph:
/// section used to observe RBD images, or null) is written back so the document plans as-is.
Json ExportDocument(const ObservedState& state, const Json& ceph = nullptr);

/// The values of running domains that differ from their persistent config (changes waiting for
/// the next boot).
std::vector<Pending> PendingChanges(const ObservedState& state);

/// One line per value of a running domain that differs from its persistent config (a change
/// waiting for the next boot): "web1: vcpus pending restart (running 1, next boot 2)".
std::vector<std::string> PendingNotes(const ObservedState& state);

/// The same document as YAML, sections in the order a person would write them, with `notes` as
/// comments at the top.
std::string ToYaml(const Json& document, const std::vector<std::string>& notes = {});

}  // namespace vc
