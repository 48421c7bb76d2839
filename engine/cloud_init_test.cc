#include "engine/cloud_init.h"

#include <gtest/gtest.h>

namespace vc {
namespace {

const Json kSeed = {{"pool", "p"},
                    {"user_data", "#cloud-config\nusers:\n  - name: ops\n    passwd: $6$abc\n"},
                    {"meta_data", {{"instance_id", "i-1"}, {"local_hostname", "web1"}}}};

TEST(CloudInitTest, SeedFilesAreSortedAndMetaDataIsYaml) {
  std::vector<SeedFile> files = SeedFiles(kSeed);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].name, "meta-data");
  EXPECT_EQ(files[0].content, "instance-id: \"i-1\"\nlocal-hostname: \"web1\"\n");
  EXPECT_EQ(files[1].name, "user-data");
  StatusOr<Json> back = CloudInitFromSeedFiles(files);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)["meta_data"], kSeed["meta_data"]);
  EXPECT_EQ((*back)["user_data"], kSeed["user_data"]);
}

TEST(CloudInitTest, TheHashDependsOnTheContentOnly) {
  EXPECT_EQ(SeedHash(SeedFiles(kSeed)), SeedHash(SeedFiles(kSeed)));
  Json other = kSeed;
  other["meta_data"]["local_hostname"] = "web2";
  EXPECT_NE(SeedHash(SeedFiles(kSeed)), SeedHash(SeedFiles(other)));
  EXPECT_EQ(SeedHash(SeedFiles(kSeed)).rfind("sha256:", 0), 0u);
  other = kSeed;
  other["pool"] = "elsewhere";  // where it is kept is not its content
  EXPECT_EQ(SeedHash(SeedFiles(kSeed)), SeedHash(SeedFiles(other)));
}

TEST(CloudInitTest, RedactsSecretValuesAndBlocks) {
  EXPECT_EQ(RedactText("a: 1\npassword: hunter2\nb: 2\n"), "a: 1\npassword: (redacted)\nb: 2\n");
  EXPECT_EQ(RedactText("  - passwd: $6$x\n"), "  - passwd: (redacted)\n");
  EXPECT_EQ(RedactText("API_TOKEN=abc"), "API_TOKEN=(redacted)");
  EXPECT_EQ(RedactText("chpasswd:\n  list: |\n    root:pw\nafter: 1\n"),
            "chpasswd:\n  (redacted)\n    (redacted)\nafter: 1\n");
  EXPECT_EQ(RedactText("ssh_authorized_keys:\n  - ssh-ed25519 AAAA\nhostname: x\n"),
            "ssh_authorized_keys:\n  (redacted)\nhostname: x\n");
  EXPECT_EQ(RedactText("hostname: web1\n"), "hostname: web1\n");
}

TEST(CloudInitTest, RedactSecretsCoversSpecsAndAttributes) {
  Json plan = {{"document", {{"domains", {{"web1", {{"cloud_init", kSeed}}}}}}},
               {"changes",
                {{{"attributes",
                   {{{"path", "cloud_init.user_data"},
                     {"before", "password: old"},
                     {"after", "password: new"}}}}}}}};
  const std::string text = RedactSecrets(plan).dump();
  EXPECT_EQ(text.find("$6$abc"), std::string::npos) << text;
  EXPECT_EQ(text.find("old"), std::string::npos) << text;
  EXPECT_EQ(text.find("new"), std::string::npos) << text;
  EXPECT_NE(text.find("(redacted)"), std::string::npos);
  EXPECT_NE(text.find("web1"), std::string::npos);
}

TEST(CloudInitTest, SplitsAChangeIntoSubFieldsWithARedactedDiff) {
  Json after = kSeed;
  after["user_data"] =
      "#cloud-config\nusers:\n  - name: ops\n    passwd: $6$new\npackages: [htop]\n";
  after["meta_data"]["local_hostname"] = "web2";
  std::vector<AttributeChange> attributes = {
      {"cloud_init", kSeed, after, Disruption::kRestart, "cloud-init reads its seed at boot"}};
  SplitCloudInitAttributes(&attributes);
  ASSERT_EQ(attributes.size(), 2u);
  EXPECT_EQ(attributes[0].path, "cloud_init.user_data");
  EXPECT_EQ(attributes[0].disruption, Disruption::kRestart);
  EXPECT_NE(attributes[0].reason.find("+packages: [htop]"), std::string::npos)
      << attributes[0].reason;
  EXPECT_EQ(attributes[0].reason.find("$6$"), std::string::npos) << attributes[0].reason;
  EXPECT_EQ(attributes[1].path, "cloud_init.meta_data");
  EXPECT_NE(attributes[1].reason.find("instance id is unchanged"), std::string::npos);
}

TEST(CloudInitTest, TextDiffShowsOnlyWhatChanged) {
  EXPECT_EQ(TextDiff("a\nb\nc\n", "a\nB\nc\nd\n"), "-b\n+B\n+d");
  EXPECT_EQ(TextDiff("same\n", "same\n"), "");
}

}  // namespace
}  // namespace vc
