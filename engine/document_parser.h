// Reading desired-state documents (YAML or JSON) into the engine's model, with every problem
// reported as `file:line:column: section.name.field: what is wrong`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/diagnostic.h"
#include "engine/resource.h"

namespace vc {

/// The largest document read, in bytes: a bigger one is an error before any parsing.
inline constexpr std::size_t kMaxDocumentBytes = std::size_t{16} << 20;

/// Parses one document's text: JSON (strictly: no comments, trailing commas or duplicate keys)
/// when `source` ends in .json or the text starts with '{' or '[', YAML otherwise (one document
/// per file; duplicate keys are errors there too). `source` names it in messages ("site.yaml",
/// "<stdin>"). Resources are added to `*doc`; a resource already in `*doc` is reported with both
/// sources. Returns the problems found; `*doc` is left unchanged when any is an error.
Diagnostics ParseDocument(std::string_view text, const std::string& source, Document* doc);

/// Reads and merges the named files ("-" is standard input, read at most once).
Diagnostics LoadDocuments(const std::vector<std::string>& paths, Document* doc);

/// Checks between fields of the merged document: memory <= max_memory, vcpus <= max_vcpus,
/// unique disk targets and MACs. LoadDocuments runs it; ParseDocument does not.
Diagnostics CheckLimits(const Document& doc);

/// Checks that wherever an RBD image, an rbd pool or an RBD disk is declared, the document has a
/// ceph: section (after --ceph-conf is merged in): what `validate` can say without a host.
Diagnostics CheckNeedsCeph(const Document& doc);

/// Checks (CheckNeedsCeph, then) that what resources refer to (a disk's volume, an interface's
/// network, a volume's pool and backing volume) is declared present or exists on the host.
Diagnostics CheckReferences(const Document& doc, const ObservedState& observed);

}  // namespace vc
