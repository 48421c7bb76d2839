// Byte sizes as the document writes them: `2GiB`, `1536MiB`, `4096` (bytes).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace vc {

/// The largest size a document may state: 2^63 - 1 bytes.
inline constexpr std::uint64_t kMaxSize = (std::uint64_t{1} << 63) - 1;

/// Parses digits with an optional unit B, KiB, MiB, GiB or TiB. Zero, other units, and values
/// above kMaxSize give InvalidArgument with a message that says which rule was broken.
StatusOr<std::uint64_t> ParseSize(std::string_view text);

/// The bytes of a size in a document's canonical form ("2GiB"); 0 when `size` is not one
/// (absent, null, or not a size).
std::uint64_t SizeBytes(const nlohmann::json& size);

/// Formats with the largest unit that divides `bytes` exactly: 1073741824 -> "1GiB",
/// 1610612736 -> "1536MiB", 1000 -> "1000B". ParseSize(FormatSize(x)) == x.
std::string FormatSize(std::uint64_t bytes);

/// For people, not documents: the largest unit that leaves at least 1, with one decimal when it
/// is not whole: 25276182528 -> "23.5GiB", 1073741824 -> "1GiB", 0 -> "0B". Not parseable back.
std::string ApproximateSize(std::uint64_t bytes);

}  // namespace vc
