#include "providers/libvirt/snapshot.h"

#include <gtest/gtest.h>

namespace vc::libvirt {
namespace {

pugi::xml_document Domain(const std::string& records) {
  pugi::xml_document doc;
  const std::string xml =
      "<domain><name>web1</name><metadata><vcsnap:snapshots "
      "xmlns:vcsnap=\"https://virtconverge.dev/xmlns/snapshots/1\">" +
      records + "</vcsnap:snapshots></metadata></domain>";
  EXPECT_TRUE(doc.load_string(xml.c_str()));
  return doc;
}

// What TakeSnapshot writes: s2 taken while the disk read s1's overlay.
const char* kWritten =
    "<vcsnap:snapshot name=\"s1\" consistency=\"pause\" created=\"2026-12-07T12:00:00Z\">"
    "<vcsnap:disk target=\"vda\" overlay=\"/srv/pool/root@s1\" backing=\"/srv/pool/root\" "
    "format=\"qcow2\"/><vcsnap:disk target=\"vdb\" rbd=\"rbd/data\"/></vcsnap:snapshot>"
    "<vcsnap:snapshot name=\"s2\" consistency=\"quiesce\" created=\"2026-12-07T12:01:00Z\">"
    "<vcsnap:disk target=\"vda\" overlay=\"/srv/pool/root@s2\" backing=\"/srv/pool/root@s1\" "
    "format=\"qcow2\"/></vcsnap:snapshot>";

TEST(SnapshotRecordTest, ReadsWhatVirtconvergeWrites) {
  pugi::xml_document doc = Domain(kWritten);
  StatusOr<std::vector<std::string>> names = RecordedSnapshots(doc.document_element());
  ASSERT_TRUE(names.ok()) << names.status().message();
  EXPECT_EQ(*names, (std::vector<std::string>{"s1", "s2"}));
  StatusOr<std::vector<SnapshotRecord>> records =
      ParseSnapshotRecords(doc.document_element().child("metadata").first_child());
  ASSERT_TRUE(records.ok());
  ASSERT_EQ((*records)[0].disks.size(), 2u);
  EXPECT_EQ((*records)[0].disks[1].rbd, "rbd/data");
  EXPECT_EQ((*records)[1].disks[0].backing, "/srv/pool/root@s1");
}

// The record says which files are merged and removed: one that points anywhere else, or names
// what a document cannot hold, is refused, naming the snapshot and disk.
TEST(SnapshotRecordTest, RefusesARecordVirtconvergeDidNotWrite) {
  const struct {
    const char* record;
    const char* says;
  } cases[] = {
      {"<vcsnap:snapshot name=\"s1\"><vcsnap:disk target=\"vda\" overlay=\"/etc/passwd\" "
       "backing=\"/srv/pool/root\" format=\"qcow2\"/></vcsnap:snapshot>",
       "snapshot s1, disk vda: overlay '/etc/passwd'"},
      {"<vcsnap:snapshot name=\"s1\"><vcsnap:disk target=\"vda\" overlay=\"root@s1\" "
       "backing=\"root\" format=\"qcow2\"/></vcsnap:snapshot>",
       "is not what virtconverge records"},
      {"<vcsnap:snapshot name=\"s1\"><vcsnap:disk target=\"vda\" overlay=\"/p/root@s1\" "
       "backing=\"/p/root\" format=\"vmdk\"/></vcsnap:snapshot>",
       "(format 'vmdk')"},
      {"<vcsnap:snapshot name=\"s1\"><vcsnap:disk target=\"vda\" overlay=\"/p/../etc/x@s1\" "
       "backing=\"/p/../etc/x\" format=\"raw\"/></vcsnap:snapshot>",
       "overlay '/p/../etc/x@s1'"},
      {"<vcsnap:snapshot name=\"../s1\"/>", "snapshot name '../s1'"},
      {"<vcsnap:snapshot name=\"s1\"><vcsnap:disk rbd=\"rbd/x\"/></vcsnap:snapshot>",
       "snapshot s1: a disk without a valid target"},
      {"<vcsnap:snapshot name=\"s1\"><vcsnap:disk target=\"vdb\" rbd=\"x\"/></vcsnap:snapshot>",
       "snapshot s1, disk vdb: rbd 'x' is not <pool>/<image>"},
  };
  for (const auto& c : cases) {
    pugi::xml_document doc = Domain(c.record);
    StatusOr<std::vector<std::string>> names = RecordedSnapshots(doc.document_element());
    ASSERT_FALSE(names.ok()) << c.record;
    EXPECT_EQ(names.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(names.status().message().find(c.says), std::string::npos) << names.status().message();
  }
}

TEST(SnapshotRecordTest, ADomainWithoutARecordHasNoSnapshots) {
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string("<domain><name>web1</name></domain>"));
  StatusOr<std::vector<std::string>> names = RecordedSnapshots(doc.document_element());
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty());
}

}  // namespace
}  // namespace vc::libvirt
