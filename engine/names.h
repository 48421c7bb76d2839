// What a resource name may be. Names reach libvirt XML, file paths and Puppet/Salt output, so the
// rule is strict: 1-64 characters of [A-Za-z0-9_.+-], not starting with '.', '_', '+' or '-'.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace vc {

inline constexpr std::size_t kMaxNameLength = 64;

/// Ok if `name` is a valid pool, network, domain or volume name; otherwise InvalidArgument saying
/// why, with the name shown safely (control characters escaped, long names cut).
Status CheckName(std::string_view name);

/// Ok if `key` is `<pool>/<volume>` with both parts valid names.
Status CheckVolumeKey(std::string_view key);

/// A printable, bounded rendering of untrusted text for error messages: quoted, control
/// characters and bytes that are not UTF-8 escaped (\xNN), cut after 40 characters (never
/// inside one). The result is always valid UTF-8.
std::string Quote(std::string_view text);

/// `text` with every byte that is not part of valid UTF-8 escaped as \xNN: safe to print and to
/// put in JSON.
std::string EscapeInvalidUtf8(std::string_view text);

/// The known word closest to `word` (edit distance), or "" when none is close enough to suggest.
std::string ClosestMatch(std::string_view word, const std::vector<std::string_view>& known);

}  // namespace vc
