// Reading JSON that comes from outside (documents, saved plans, serve requests) strictly: one
// value and nothing after it, no comments, no trailing commas, no duplicate keys, bounded
// nesting. nlohmann's own parser accepts duplicate keys (the last wins) and unbounded depth
// (which its recursive destructor and serializer then overflow on).
#pragma once

#include <string_view>

#include "engine/resource.h"
#include "engine/status.h"

namespace vc {

/// The deepest nesting of arrays and objects accepted.
inline constexpr int kMaxJsonDepth = 64;

/// Parses `text` as exactly one JSON value. InvalidArgument "line L, column C: what is wrong"
/// otherwise (error code invalid_document).
StatusOr<Json> ReadStrictJson(std::string_view text, int max_depth = kMaxJsonDepth);

/// "line L, column C" of byte offset `offset` in `text` (both counted from 1).
std::string PositionOf(std::string_view text, std::size_t offset);

}  // namespace vc
