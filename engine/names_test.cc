#include "engine/names.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace vc {
namespace {

TEST(NamesTest, AcceptsOrdinaryNames) {
  for (const char* name : {"web1", "vc-images", "a", "db_01.prod", "x+y", "9lives"}) {
    EXPECT_TRUE(CheckName(name).ok()) << name;
  }
}

TEST(NamesTest, RejectsHostileNames) {
  std::string long_name(300, 'a');
  for (std::string name :
       {std::string("../etc"), std::string("a;rm -rf /"), std::string("<x/>"), std::string("it's"),
        std::string("say\"hi\""), long_name, std::string(""), std::string("-rf"),
        std::string(".hidden"), std::string("a b"), std::string("a/b"), std::string("tab\there"),
        std::string("new\nline")}) {
    EXPECT_FALSE(CheckName(name).ok()) << name;
  }
  EXPECT_TRUE(CheckName(std::string(64, 'a')).ok());
  EXPECT_FALSE(CheckName(std::string(65, 'a')).ok());
}

TEST(NamesTest, QuoteEscapesControlCharactersAndCutsLongText) {
  EXPECT_EQ(Quote("a\nb"), "'a\\x0ab'");
  std::string quoted = Quote(std::string(300, 'x'));
  EXPECT_LT(quoted.size(), 80u);
  EXPECT_NE(quoted.find("300 bytes"), std::string::npos);
}

// True when `text` is valid UTF-8 (what nlohmann's dump requires).
bool ValidUtf8(const std::string& text) { return EscapeInvalidUtf8(text) == text; }

TEST(NamesTest, QuoteNeverCutsInsideACharacterNorPassesInvalidBytes) {
  std::string name = std::string(39, 'a');
  for (int i = 0; i < 20; ++i) name += "\u00e9";  // é, two bytes each
  std::string quoted = Quote(name);
  EXPECT_TRUE(ValidUtf8(quoted)) << quoted;
  EXPECT_NE(quoted.find("a\u00e9..."), std::string::npos)
      << "39 letters and one whole é: " << quoted;
  EXPECT_EQ(Quote("x\xffy"), "'x\\xffy'");
  EXPECT_EQ(EscapeInvalidUtf8("ok \xc3\xa9 \xc3 \xed\xa0\x80"), "ok \u00e9 \\xc3 \\xed\\xa0\\x80");
  EXPECT_NO_THROW(nlohmann::json(Quote("bad \xfe\xff")).dump());
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
