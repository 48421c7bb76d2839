// RBD image features by name ("layering", "object-map", ...) and the order in which they can be
// switched on and off on an existing image.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vc::ceph {

/// The names of the user-visible features set in `bits`, sorted (internal ones such as
/// "operations" are left out).
std::vector<std::string> FeatureNames(std::uint64_t bits);

/// The bit of a feature name; 0 when the name is unknown.
std::uint64_t FeatureBit(const std::string& name);

/// `names` ordered so each feature comes after the ones it needs when enabling
/// (exclusive-lock, object-map, fast-diff), or before them when `disabling`.
std::vector<std::string> DependencyOrder(std::vector<std::string> names, bool disabling);

}  // namespace vc::ceph
