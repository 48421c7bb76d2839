#include "providers/libvirt/libvirt_provider.h"

#include <gtest/gtest.h>

#include "engine/applier.h"
#include "engine/document_parser.h"
#include "engine/planner.h"

namespace vc::libvirt {
namespace {

// libvirt's built-in test driver: a whole host inside this process. The same behaviour is proven
// on the real libvirtd by tests/integration.
TEST(LibvirtProviderTest, ConvergesADocumentOnTheTestDriver) {
  StatusOr<std::unique_ptr<LibvirtProvider>> provider = LibvirtProvider::Open("test:///default");
  ASSERT_TRUE(provider.ok()) << provider.status().message();
  Document doc;
  ASSERT_FALSE(HasErrors(ParseDocument(R"(version: 1
pools: {tp: {type: dir, path: /tp}}
volumes: {tp/disk: {capacity: 1GiB}}
networks: {tn: {mode: isolated}}
domains:
  td: {vcpus: 2, max_vcpus: 4, memory: 128MiB, disks: [{volume: tp/disk, target: vda}], autostart: true}
)",
                                       "t.yaml", &doc)));
  StatusOr<ObservedState> before = (*provider)->ObserveAll();
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(before->resources.count(Address{Kind::kDomain, "test"})) << "the driver's own domain";
  Plan plan = ComputePlan(doc, *before, {});
  ASSERT_TRUE(plan.applyable());
  EXPECT_EQ(plan.changes.size(), 4u);
  ApplyReport report = ApplyPlan(plan, **provider, {}, nullptr);
  ASSERT_TRUE(report.ok()) << ApplyReportToJson(report).dump(2);
  StatusOr<ObservedState> after = (*provider)->ObserveAll();
  ASSERT_TRUE(after.ok());
  const ObservedResource& td = after->resources.at(Address{Kind::kDomain, "td"});
  EXPECT_TRUE(td.managed);
  EXPECT_EQ(td.spec["state"], "running");
  EXPECT_EQ(td.spec["autostart"], true);
  EXPECT_TRUE(after->resources.at(Address{Kind::kNetwork, "tn"}).managed);
  EXPECT_TRUE(after->resources.at(Address{Kind::kPool, "tp"}).managed);
  EXPECT_FALSE(after->resources.at(Address{Kind::kDomain, "test"}).managed);
  EXPECT_TRUE(ComputePlan(doc, *after, {}).changes.empty());
}

TEST(LibvirtProviderTest, UnreachableDaemonIsUnavailableNotAHang) {
  StatusOr<std::unique_ptr<LibvirtProvider>> provider =
      LibvirtProvider::Open("qemu+unix:///system?socket=/nonexistent/vc.sock");
  ASSERT_FALSE(provider.ok());
  EXPECT_EQ(provider.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(provider.status().message().find("cannot connect"), std::string::npos);
}

}  // namespace
}  // namespace vc::libvirt
