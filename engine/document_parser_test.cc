#include "engine/document_parser.h"

#include <gtest/gtest.h>

namespace vc {
namespace {

constexpr const char* kSite = R"(version: 1
pools:
  vc-images:
    type: dir
    path: /var/lib/virtconverge/images
networks:
  vc-isolated:
    mode: isolated
volumes:
  vc-images/web1-root:
    format: qcow2
    capacity: 2GiB
domains:
  web1:
    vcpus: 1
    max_vcpus: 4
    memory: 256MiB
    max_memory: 1024MiB
    disks:
      - volume: vc-images/web1-root
        target: vda
    interfaces:
      - network: vc-isolated
    state: running
    autostart: false
)";

std::string Errors(const Diagnostics& diags) {
  std::string out;
  for (const Diagnostic& d : diags) out += d.summary + "\n";
  return out;
}

TEST(DocumentParserTest, AcceptsTheContractDocumentAsWritten) {
  Document doc;
  Diagnostics diags = ParseDocument(kSite, "site.yaml", &doc);
  ASSERT_FALSE(HasErrors(diags)) << Errors(diags);
  ASSERT_EQ(doc.resources.size(), 4u);
  const Json& web1 = doc.resources.at(Address{Kind::kDomain, "web1"}).spec;
  EXPECT_EQ(web1["vcpus"], 1);
  EXPECT_EQ(web1["max_memory"], "1GiB");  // canonical units
  EXPECT_EQ(web1["disks"][0]["volume"], "vc-images/web1-root");
  EXPECT_EQ(web1["autostart"], false);
  EXPECT_EQ(doc.resources.at(Address{Kind::kVolume, "vc-images/web1-root"}).spec["capacity"],
            "2GiB");
}

TEST(DocumentParserTest, JsonParsesToTheSameModel) {
  Document yaml_doc;
  Document json_doc;
  ASSERT_FALSE(HasErrors(ParseDocument(kSite, "a.yaml", &yaml_doc)));
  const char* json =
      R"({"version": 1, "pools": {"vc-images": {"type": "dir", "path": "/var/lib/virtconverge/images"}},
    "networks": {"vc-isolated": {"mode": "isolated"}},
    "volumes": {"vc-images/web1-root": {"format": "qcow2", "capacity": 2147483648}},
    "domains": {"web1": {"vcpus": 1, "max_vcpus": 4, "memory": "256MiB", "max_memory": "1GiB",
      "disks": [{"volume": "vc-images/web1-root", "target": "vda"}],
      "interfaces": [{"network": "vc-isolated"}], "state": "running", "autostart": false}}})";
  Diagnostics diags = ParseDocument(json, "a.json", &json_doc);
  ASSERT_FALSE(HasErrors(diags)) << Errors(diags);
  for (const auto& [address, r] : yaml_doc.resources) {
    EXPECT_EQ(json_doc.resources.at(address).spec, r.spec) << address.ToString();
  }
}

TEST(DocumentParserTest, UnknownFieldNamesPositionAndSuggestion) {
  Document doc;
  Diagnostics diags = ParseDocument(
      "version: 1\ndomains:\n  web1:\n    vcpu: 2\n    memory: 1GiB\n", "d.yaml", &doc);
  ASSERT_TRUE(HasErrors(diags));
  EXPECT_NE(
      Errors(diags).find("d.yaml:4:11: domains.web1.vcpu: unknown field, did you mean 'vcpus'?"),
      std::string::npos)
      << Errors(diags);
}

TEST(DocumentParserTest, MalformedYamlGivesLineAndColumn) {
  Document doc;
  Diagnostics diags = ParseDocument("version: 1\ndomains:\n  web1: {vcpus: 1\n", "bad.yaml", &doc);
  ASSERT_TRUE(HasErrors(diags));
  EXPECT_NE(Errors(diags).find("bad.yaml:"), std::string::npos);
  EXPECT_NE(Errors(diags).find("malformed"), std::string::npos);
}

TEST(DocumentParserTest, NameDeclaredInTwoFilesNamesBoth) {
  Document doc;
  const char* one = "version: 1\nnetworks:\n  n1:\n    mode: isolated\n";
  ASSERT_FALSE(HasErrors(ParseDocument(one, "first.yaml", &doc)));
  Diagnostics diags = ParseDocument(one, "second.yaml", &doc);
  ASSERT_TRUE(HasErrors(diags));
  EXPECT_NE(Errors(diags).find("first.yaml"), std::string::npos);
  EXPECT_NE(Errors(diags).find("second.yaml"), std::string::npos);
}

TEST(DocumentParserTest, FailedDocumentLeavesTheMergeUntouched) {
  Document doc;
  ASSERT_FALSE(
      HasErrors(ParseDocument("version: 1\nnetworks:\n  n1:\n    mode: isolated\n", "a", &doc)));
  ASSERT_TRUE(HasErrors(ParseDocument(
      "version: 1\nnetworks:\n  n2:\n    mode: isolated\n  n3: {mode: x}\n", "b", &doc)));
  EXPECT_EQ(doc.resources.size(), 1u);
}

TEST(DocumentParserTest, RejectsQuotedNumbersAndBooleans) {
  Document doc;
  EXPECT_TRUE(HasErrors(ParseDocument(
      "version: 1\ndomains:\n  d:\n    vcpus: \"2\"\n    memory: 1GiB\n", "q", &doc)));
  EXPECT_TRUE(HasErrors(ParseDocument(
      "version: 1\ndomains:\n  d:\n    vcpus: 2\n    memory: 1GiB\n    autostart: \"yes\"\n", "q",
      &doc)));
}

TEST(DocumentParserTest, LimitsBetweenFieldsNameTheField) {
  Document doc;
  ASSERT_FALSE(
      HasErrors(ParseDocument("version: 1\ndomains:\n  d:\n    vcpus: 4\n    max_vcpus: 2\n    "
                              "memory: 2GiB\n    max_memory: 1GiB\n",
                              "l.yaml", &doc)));
  Diagnostics diags = CheckLimits(doc);
  EXPECT_NE(Errors(diags).find("domains.d.vcpus"), std::string::npos) << Errors(diags);
  EXPECT_NE(Errors(diags).find("domains.d.memory"), std::string::npos) << Errors(diags);
}

TEST(DocumentParserTest, AbsentNeedsNoOtherFields) {
  Document doc;
  Diagnostics diags =
      ParseDocument("version: 1\ndomains:\n  old:\n    ensure: absent\n", "a", &doc);
  ASSERT_FALSE(HasErrors(diags)) << Errors(diags);
  EXPECT_TRUE(doc.resources.at(Address{Kind::kDomain, "old"}).absent);
}

TEST(DocumentParserTest, ReferencesMustBeDeclaredOrPresent) {
  Document doc;
  ASSERT_FALSE(
      HasErrors(ParseDocument("version: 1\ndomains:\n  d:\n    vcpus: 1\n    memory: 1GiB\n    "
                              "disks:\n      - {volume: p/missing, target: vda}\n",
                              "r.yaml", &doc)));
  ObservedState empty;
  Diagnostics diags = CheckReferences(doc, empty);
  EXPECT_NE(Errors(diags).find(
                "domains.d.disks[0].volume: volume p/missing is neither declared nor present"),
            std::string::npos)
      << Errors(diags);
  ObservedState with_volume;
  with_volume.resources[Address{Kind::kVolume, "p/missing"}] = {};
  EXPECT_FALSE(HasErrors(CheckReferences(doc, with_volume)));
}

}  // namespace
}  // namespace vc

namespace vc {
namespace {

// validate can say without a host that what needs Ceph needs the ceph: section.
TEST(DocumentParserTest, WhatNeedsCephWithoutACephSectionIsReportedWithoutAHost) {
  Document doc;
  ASSERT_FALSE(HasErrors(ParseDocument(R"(version: 1
pools:
  rp: {type: rbd, ceph_pool: rbd}
rbd_images:
  rbd/img: {size: 1GiB}
domains:
  vm: {vcpus: 1, memory: 64MiB, disks: [{rbd: rbd/img, target: vda}]}
)",
                                       "t.yaml", &doc)));
  Diagnostics diags = CheckNeedsCeph(doc);
  ASSERT_EQ(diags.size(), 3u);
  for (const Diagnostic& d : diags) {
    EXPECT_EQ(d.code, ErrorCode::kMissingReference) << d.summary;
    EXPECT_NE(d.summary.find("ceph: section"), std::string::npos) << d.summary;
  }
  doc.ceph = Json{{"conf", "/etc/ceph/ceph.conf"}};
  EXPECT_TRUE(CheckNeedsCeph(doc).empty());
}

}  // namespace
}  // namespace vc
