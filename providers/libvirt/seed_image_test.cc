#include "providers/libvirt/seed_image.h"

#include <gtest/gtest.h>

namespace vc::libvirt {
namespace {

std::vector<SeedFile> Files(const std::string& hostname) {
  return SeedFiles({{"user_data", "#cloud-config\npassword: s3cret\n"},
                    {"meta_data", {{"instance_id", "i-1"}, {"local_hostname", hostname}}},
                    {"network_config", "version: 2\n"}});
}

TEST(SeedImageTest, TheSameFilesGiveTheSameBytes) {
  StatusOr<std::string> a = BuildSeedImage(Files("web1"));
  ASSERT_TRUE(a.ok()) << a.status().message();
  StatusOr<std::string> b = BuildSeedImage(Files("web1"));
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->size() % 2048, 0u);
  StatusOr<std::string> c = BuildSeedImage(Files("web2"));
  ASSERT_TRUE(c.ok());
  EXPECT_NE(*a, *c);
}

TEST(SeedImageTest, IsAnIso9660VolumeNamedCidata) {
  StatusOr<std::string> image = BuildSeedImage(Files("web1"));
  ASSERT_TRUE(image.ok());
  // The primary volume descriptor at sector 16: type 1, "CD001", the volume id at offset 40.
  ASSERT_GT(image->size(), 17u * 2048);
  EXPECT_EQ(image->substr(16 * 2048, 6), std::string("\x01"
                                                     "CD001"));
  EXPECT_EQ(image->substr(16 * 2048 + 40, 6), "cidata");
  EXPECT_NE(image->find("\x02"
                        "CD001"),
            std::string::npos)
      << "a Joliet descriptor";
}

TEST(SeedImageTest, ReadsBackTheFilesItWrote) {
  StatusOr<std::string> image = BuildSeedImage(Files("web1"));
  ASSERT_TRUE(image.ok());
  // A volume larger than the image (a grown seed volume) reads the same.
  StatusOr<std::vector<SeedFile>> files = ReadSeedImage(*image + std::string(8192, 'x'));
  ASSERT_TRUE(files.ok()) << files.status().message();
  EXPECT_EQ(*files, Files("web1"));
  StatusOr<Json> back = CloudInitFromSeedFiles(*files);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)["meta_data"]["local_hostname"], "web1");
  EXPECT_EQ(SeedHash(*files), SeedHash(Files("web1")));
}

TEST(SeedImageTest, RefusesWhatIsNotASeed) {
  EXPECT_FALSE(ReadSeedImage(std::string(64 * 1024, '\0')).ok());
  EXPECT_FALSE(ReadSeedImage("short").ok());
}

}  // namespace
}  // namespace vc::libvirt
