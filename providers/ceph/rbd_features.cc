#include "providers/ceph/rbd_features.h"

#include <rbd/features.h>

#include <algorithm>
#include <array>
#include <utility>

namespace vc::ceph {
namespace {

// In dependency order: object-map needs exclusive-lock, fast-diff needs object-map.
constexpr std::array<std::pair<const char*, std::uint64_t>, 8> kFeatures = {{
    {RBD_FEATURE_NAME_LAYERING, RBD_FEATURE_LAYERING},
    {RBD_FEATURE_NAME_STRIPINGV2, RBD_FEATURE_STRIPINGV2},
    {RBD_FEATURE_NAME_EXCLUSIVE_LOCK, RBD_FEATURE_EXCLUSIVE_LOCK},
    {RBD_FEATURE_NAME_OBJECT_MAP, RBD_FEATURE_OBJECT_MAP},
    {RBD_FEATURE_NAME_FAST_DIFF, RBD_FEATURE_FAST_DIFF},
    {RBD_FEATURE_NAME_DEEP_FLATTEN, RBD_FEATURE_DEEP_FLATTEN},
    {RBD_FEATURE_NAME_JOURNALING, RBD_FEATURE_JOURNALING},
    {RBD_FEATURE_NAME_DATA_POOL, RBD_FEATURE_DATA_POOL},
}};

int Rank(const std::string& name) {
  for (std::size_t i = 0; i < kFeatures.size(); ++i) {
    if (name == kFeatures[i].first) return static_cast<int>(i);
  }
  return static_cast<int>(kFeatures.size());
}

}  // namespace

std::vector<std::string> FeatureNames(std::uint64_t bits) {
  std::vector<std::string> names;
  for (const auto& [name, bit] : kFeatures) {
    if (bits & bit) names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::uint64_t FeatureBit(const std::string& name) {
  for (const auto& [feature, bit] : kFeatures) {
    if (name == feature) return bit;
  }
  return 0;
}

std::vector<std::string> DependencyOrder(std::vector<std::string> names, bool disabling) {
  std::sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
    return disabling ? Rank(a) > Rank(b) : Rank(a) < Rank(b);
  });
  return names;
}

}  // namespace vc::ceph
