#include "engine/size.h"

#include <gtest/gtest.h>

namespace vc {
namespace {

TEST(SizeTest, ParsesEveryUnitAndPlainBytes) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("512B"), 512u);
  EXPECT_EQ(*ParseSize("2KiB"), 2048u);
  EXPECT_EQ(*ParseSize("256MiB"), 256u << 20);
  EXPECT_EQ(*ParseSize("2GiB"), 2ull << 30);
  EXPECT_EQ(*ParseSize("1TiB"), 1ull << 40);
}

TEST(SizeTest, RejectsZeroUnknownUnitsAndOverflow) {
  EXPECT_FALSE(ParseSize("0").ok());
  EXPECT_FALSE(ParseSize("0GiB").ok());
  EXPECT_FALSE(ParseSize("12XB").ok());
  EXPECT_FALSE(ParseSize("2GB").ok());
  EXPECT_FALSE(ParseSize("").ok());
  EXPECT_FALSE(ParseSize("GiB").ok());
  EXPECT_FALSE(ParseSize("-1GiB").ok());
  EXPECT_FALSE(ParseSize("8388608TiB").ok());  // 2^63 bytes
  EXPECT_TRUE(ParseSize("8388607TiB").ok());
  EXPECT_FALSE(ParseSize("99999999999999999999999").ok());
  EXPECT_NE(ParseSize("12XB").status().message().find("unknown unit"), std::string::npos);
}

TEST(SizeTest, FormatsWithTheLargestExactUnit) {
  EXPECT_EQ(FormatSize(1ull << 30), "1GiB");
  EXPECT_EQ(FormatSize(1536ull << 20), "1536MiB");
  EXPECT_EQ(FormatSize(1000), "1000B");
  EXPECT_EQ(FormatSize(1024), "1KiB");
  EXPECT_EQ(FormatSize(3ull << 40), "3TiB");
}

TEST(SizeTest, ApproximatesForPeopleWithOneDecimal) {
  EXPECT_EQ(ApproximateSize(25276182528ull), "23.5GiB");
  EXPECT_EQ(ApproximateSize(1ull << 30), "1GiB");
  EXPECT_EQ(ApproximateSize(1536ull << 20), "1.5GiB");
  EXPECT_EQ(ApproximateSize(1023), "1023B");
  EXPECT_EQ(ApproximateSize(0), "0B");
  EXPECT_EQ(ApproximateSize(4096), "4KiB");
}

TEST(SizeTest, FormatAndParseRoundTrip) {
  for (std::uint64_t bytes : {std::uint64_t{1}, std::uint64_t{1023}, std::uint64_t{4096},
                              std::uint64_t{3} << 29, std::uint64_t{5} << 40, kMaxSize}) {
    EXPECT_EQ(*ParseSize(FormatSize(bytes)), bytes) << bytes;
  }
}

}  // namespace
}  // namespace vc
