#include "providers/libvirt/libvirt_provider.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

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

// A daemon that accepts on its socket and never answers (stopped, wedged): the open fails at its
// deadline with kTimeout naming the host, instead of waiting forever.
TEST(LibvirtProviderTest, SilentDaemonTimesOutAtTheDeadline) {
  const std::string path = "/tmp/vc-silent-" + std::to_string(::getpid()) + ".sock";
  int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  ::unlink(path.c_str());
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 4), 0);  // connections queue; nobody ever reads them
  const auto start = std::chrono::steady_clock::now();
  StatusOr<std::unique_ptr<LibvirtProvider>> provider =
      LibvirtProvider::Open("qemu+unix:///system?socket=" + path, std::chrono::seconds(2));
  const auto waited = std::chrono::steady_clock::now() - start;
  ::close(listener);
  ::unlink(path.c_str());
  ASSERT_FALSE(provider.ok());
  EXPECT_EQ(provider.status().error_code(), ErrorCode::kTimeout);
  EXPECT_NE(provider.status().message().find(path), std::string::npos);
  EXPECT_GE(waited, std::chrono::seconds(2));
  EXPECT_LT(waited, std::chrono::seconds(10));
}

}  // namespace
}  // namespace vc::libvirt
