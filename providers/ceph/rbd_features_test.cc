#include "providers/ceph/rbd_features.h"

#include <gtest/gtest.h>

namespace vc::ceph {
namespace {

TEST(RbdFeaturesTest, NamesRoundTripThroughBits) {
  std::uint64_t bits = 0;
  for (const char* name :
       {"layering", "exclusive-lock", "object-map", "fast-diff", "deep-flatten"}) {
    EXPECT_NE(FeatureBit(name), 0u) << name;
    bits |= FeatureBit(name);
  }
  EXPECT_EQ(FeatureNames(bits), (std::vector<std::string>{"deep-flatten", "exclusive-lock",
                                                          "fast-diff", "layering", "object-map"}));
  EXPECT_EQ(FeatureBit("turbo"), 0u);
}

TEST(RbdFeaturesTest, InternalFeaturesAreNotReported) {
  const std::uint64_t kOperations = 1ULL << 8;  // set by librbd on clones
  EXPECT_EQ(FeatureNames(FeatureBit("layering") | kOperations),
            (std::vector<std::string>{"layering"}));
}

TEST(RbdFeaturesTest, EnablingFollowsDependenciesAndDisablingReversesThem) {
  std::vector<std::string> names = {"fast-diff", "exclusive-lock", "object-map"};
  EXPECT_EQ(DependencyOrder(names, false),
            (std::vector<std::string>{"exclusive-lock", "object-map", "fast-diff"}));
  EXPECT_EQ(DependencyOrder(names, true),
            (std::vector<std::string>{"fast-diff", "object-map", "exclusive-lock"}));
}

}  // namespace
}  // namespace vc::ceph
