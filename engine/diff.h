// Comparing a declared resource with what the host holds: only the fields the document declares
// count, and within lists of objects only the declared sub-fields.
#pragma once

#include <vector>

#include "engine/plan.h"

namespace vc {

/// `observed` cut down to the shape of `desired` (the declared fields, recursively).
Json Project(const Json& observed, const Json& desired);

/// The attribute differences of one resource: only fields `desired` declares are compared, and
/// within lists of objects only the declared sub-fields. Disruption is not yet classified.
std::vector<AttributeChange> DiffAttributes(const Json& desired, const Json& observed);

/// The differences between a declared resource of `kind` and its observed spec, compared as the
/// kind requires: declared fields only; a domain's policy fields never; an RBD image's declared
/// snapshots must exist (others may), and with `flatten: true` the clone source no longer counts.
std::vector<AttributeChange> DiffResource(Kind kind, const Json& desired, const Json& observed);

/// The elements of array `a` not in array `b`, in `a`'s order (a set difference of lists: the
/// names a change adds or removes). A non-array `a` has none; a non-array `b` removes none.
Json Minus(const Json& a, const Json& b);

}  // namespace vc
