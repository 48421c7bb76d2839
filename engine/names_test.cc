#include "engine/names.h"

#include <gtest/gtest.h>

namespace vc {
namespace {

TEST(NamesTest, AcceptsOrdinaryNames) {
  for (const char* name : {"web1", "vc-images", "a", "db_01.prod", "x+y", "9lives"}) {
    EXPECT_TRUE(CheckName(name).ok()) << name;
  }
}

TEST(NamesTest, RejectsHostileNames) {
  std::string long_name(300, 'a');
  for (std::string name : {std::string("../etc"), std::string("a;rm -rf /"), std::string("<x/>"),
                           std::string("it's"), std::string("say\"hi\""), long_name, std::string(""),
                           std::string("-rf"), std::string(".hidden"), std::string("a b"),
                           std::string("a/b"), std::string("tab\there"), std::string("new\nline")}) {
    EXPECT_FALSE(CheckName(name).ok()) << name;
  }
  EXPECT_TRUE(CheckName(std::string(64, 'a')).ok());
  EXPECT_FALSE(CheckName(std::string(65, 'a')).ok());
}

TEST(NamesTest, QuoteEscapesControlCharactersAndCutsLongText) {
  EXPECT_EQ(Quote("a\nb"), "'a\\x0ab'");
  std::string quoted = Quote(std::string(300, 'x'));
  EXPECT_LT(quoted.size(), 80u);
  EXPECT_NE(quoted.find("300 characters"), std::string::npos);
}

TEST(NamesTest, VolumeKeysNeedPoolAndVolume) {
  EXPECT_TRUE(CheckVolumeKey("images/web1-root").ok());
  EXPECT_FALSE(CheckVolumeKey("web1-root").ok());
  EXPECT_FALSE(CheckVolumeKey("images/../etc").ok());
  EXPECT_FALSE(CheckVolumeKey("images/a/b").ok());
}

TEST(NamesTest, SuggestsTheClosestKnownWord) {
  EXPECT_EQ(ClosestMatch("vcpu", {"vcpus", "max_vcpus", "memory"}), "vcpus");
  EXPECT_EQ(ClosestMatch("memroy", {"vcpus", "memory"}), "memory");
  EXPECT_EQ(ClosestMatch("zzzzzz", {"vcpus", "memory"}), "");
}

}  // namespace
}  // namespace vc
