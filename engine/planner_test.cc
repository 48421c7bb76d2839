#include "engine/planner.h"

#include <gtest/gtest.h>

#include "engine/document_parser.h"

namespace vc {
namespace {

Document Parse(const std::string& yaml) {
  Document doc;
  Diagnostics diags = ParseDocument(yaml, "test.yaml", &doc);
  EXPECT_FALSE(HasErrors(diags)) << (diags.empty() ? "" : diags[0].summary);
  return doc;
}

ObservedResource Observed(Kind kind, const std::string& name, Json spec, Json live = nullptr) {
  return ObservedResource{{kind, name}, std::move(spec), std::move(live), false};
}

const char* kWeb1 = R"(version: 1
domains:
  web1:
    vcpus: 2
    memory: 512MiB
    disks: [{volume: p/root, target: vda}]
    interfaces: [{network: n}]
)";

Json ObservedWeb1(int vcpus, const std::string& state) {
  return Json{{"vcpus", vcpus},
              {"max_vcpus", 4},
              {"memory", "512MiB"},
              {"max_memory", "1GiB"},
              {"disks", Json::array({{{"volume", "p/root"}, {"target", "vda"}, {"bus", "virtio"}}})},
              {"interfaces", Json::array({{{"network", "n"}, {"mac", "52:54:00:aa:bb:cc"}, {"model", "virtio"}}})},
              {"state", state},
              {"autostart", false},
              {"virt_type", "kvm"}};
}

ObservedState StateWith(std::vector<ObservedResource> resources) {
  ObservedState state;
  state.connection = "test:///default";
  for (ObservedResource& r : resources) state.resources[r.address] = r;
  state.resources[Address{Kind::kVolume, "p/root"}] = Observed(Kind::kVolume, "p/root", {{"capacity", "1GiB"}});
  state.resources[Address{Kind::kNetwork, "n"}] = Observed(Kind::kNetwork, "n", {{"mode", "isolated"}});
  state.resources[Address{Kind::kPool, "p"}] = Observed(Kind::kPool, "p", {{"type", "dir"}, {"path", "/srv/p"}});
  return state;
}

TEST(PlannerTest, ValuesLibvirtFillsInNeverShowAsADiff) {
  ObservedState state = StateWith({Observed(Kind::kDomain, "web1", ObservedWeb1(2, "stopped"))});
  Plan plan = ComputePlan(Parse(kWeb1), state, {});
  EXPECT_TRUE(plan.changes.empty()) << PlanToJson(plan).dump(2);
  EXPECT_TRUE(plan.applyable());
}

TEST(PlannerTest, CreatesWhatIsMissingInDependencyOrder) {
  Document doc = Parse(R"(version: 1
domains:
  web1: {vcpus: 1, memory: 256MiB, disks: [{volume: p/root, target: vda}]}
volumes:
  p/root: {capacity: 1GiB}
  p/overlay: {backing_volume: p/root}
pools:
  p: {type: dir, path: /srv/p}
)");
  Plan plan = ComputePlan(doc, ObservedState{}, {});
  ASSERT_EQ(plan.changes.size(), 4u);
  EXPECT_EQ(plan.changes[0].address.ToString(), "pool.p");
  EXPECT_EQ(plan.changes[1].address.ToString(), "volume.p/root");
  EXPECT_EQ(plan.changes[2].address.ToString(), "volume.p/overlay");
  EXPECT_EQ(plan.changes[3].address.ToString(), "domain.web1");
  for (const Change& c : plan.changes) EXPECT_EQ(c.action, Action::kCreate);
  EXPECT_TRUE(plan.applyable());
}

TEST(PlannerTest, HardwareChangeOnRunningDomainNeedsRestart) {
  ObservedState state = StateWith({Observed(Kind::kDomain, "web1", ObservedWeb1(1, "running"),
                                            ObservedWeb1(1, "running"))});
  Plan plan = ComputePlan(Parse(kWeb1), state, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& change = plan.changes[0];
  EXPECT_EQ(change.action, Action::kUpdate);
  ASSERT_EQ(change.attributes.size(), 1u);
  EXPECT_EQ(change.attributes[0].path, "vcpus");
  EXPECT_EQ(change.attributes[0].before, 1);
  EXPECT_EQ(change.attributes[0].after, 2);
  EXPECT_EQ(change.disruption(), Disruption::kRestart);
  std::vector<Step> steps = StepsFor(change, {}, state, 5);
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].op, Step::Op::kWriteConfig);
  std::vector<Step> with_restart = StepsFor(change, {false, true, false}, state, 5);
  ASSERT_EQ(with_restart.size(), 3u);
  EXPECT_EQ(with_restart[1].op, Step::Op::kShutdown);
  EXPECT_EQ(with_restart[2].op, Step::Op::kStart);
}

TEST(PlannerTest, SameChangeOnStoppedDomainIsNotDisruptive) {
  ObservedState state = StateWith({Observed(Kind::kDomain, "web1", ObservedWeb1(1, "stopped"))});
  Plan plan = ComputePlan(Parse(kWeb1), state, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].disruption(), Disruption::kNone);
}

TEST(PlannerTest, ConfigAheadOfRunningGuestIsPendingNotAChange) {
  ObservedState state = StateWith({Observed(Kind::kDomain, "web1", ObservedWeb1(2, "running"),
                                            ObservedWeb1(1, "running"))});
  Plan plan = ComputePlan(Parse(kWeb1), state, {});
  EXPECT_TRUE(plan.changes.empty());
  ASSERT_EQ(plan.pending.size(), 1u);
  EXPECT_EQ(plan.pending[0].path, "vcpus");
  EXPECT_EQ(plan.pending[0].live, 1);
  EXPECT_EQ(plan.pending[0].config, 2);
}

TEST(PlannerTest, VolumeShrinkIsDestructiveAndRefusedWithoutAllow) {
  Document doc = Parse("version: 1\nvolumes:\n  p/root: {capacity: 512MiB}\n");
  ObservedState state = StateWith({});
  Plan refused = ComputePlan(doc, state, {});
  ASSERT_EQ(refused.changes.size(), 1u);
  EXPECT_EQ(refused.changes[0].disruption(), Disruption::kDestructive);
  EXPECT_FALSE(refused.applyable());
  Plan allowed = ComputePlan(doc, state, {true, false, false});
  EXPECT_TRUE(allowed.applyable());
}

TEST(PlannerTest, VolumeGrowIsLiveAndReachesRunningUsers) {
  Document doc = Parse("version: 1\nvolumes:\n  p/root: {capacity: 2GiB}\n");
  ObservedState state = StateWith({Observed(Kind::kDomain, "web1", ObservedWeb1(2, "running"),
                                            ObservedWeb1(2, "running"))});
  Plan plan = ComputePlan(doc, state, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].disruption(), Disruption::kLive);
  std::vector<Step> steps = StepsFor(plan.changes[0], {}, state, 5);
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].op, Step::Op::kBlockResize);
  EXPECT_EQ(steps[0].address.ToString(), "domain.web1");
  EXPECT_EQ(steps[0].spec["target"], "vda");
}

TEST(PlannerTest, FormatChangeReplacesTheVolume) {
  Document doc = Parse("version: 1\nvolumes:\n  p/root: {capacity: 1GiB, format: raw}\n");
  ObservedState state = StateWith({});
  state.resources[Address{Kind::kVolume, "p/root"}].spec["format"] = "qcow2";
  Plan plan = ComputePlan(doc, state, {true, false, false});
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].action, Action::kReplace);
  std::vector<Step> steps = StepsFor(plan.changes[0], plan.options, state, 5);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].op, Step::Op::kDelete);
  EXPECT_EQ(steps[1].op, Step::Op::kCreate);
}

TEST(PlannerTest, AbsentDeletesAndRunningDomainIsShutDownFirst) {
  Document doc = Parse("version: 1\ndomains:\n  web1: {ensure: absent}\n");
  ObservedState state = StateWith({Observed(Kind::kDomain, "web1", ObservedWeb1(2, "running"),
                                            ObservedWeb1(2, "running"))});
  Plan plan = ComputePlan(doc, state, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].action, Action::kDelete);
  std::vector<Step> steps = StepsFor(plan.changes[0], {}, state, 5);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].op, Step::Op::kShutdown);
  EXPECT_EQ(steps[1].op, Step::Op::kDelete);
}

TEST(PlannerTest, VolumeInUseCannotBeDeleted) {
  Document doc = Parse("version: 1\nvolumes:\n  p/root: {ensure: absent}\n");
  ObservedState state = StateWith({Observed(Kind::kDomain, "web1", ObservedWeb1(2, "stopped"))});
  Plan plan = ComputePlan(doc, state, {true, false, false});
  EXPECT_FALSE(plan.applyable());
  ASSERT_FALSE(plan.diagnostics.empty());
  EXPECT_NE(plan.diagnostics[0].summary.find("domain web1 uses it"), std::string::npos);
}

TEST(PlannerTest, PruneDeletesOnlyMarkedUndeclaredResources) {
  ObservedState state = StateWith({});
  ObservedResource marked = Observed(Kind::kNetwork, "old", {{"mode", "isolated"}});
  marked.managed = true;
  state.resources[marked.address] = marked;
  Document doc = Parse("version: 1\n");
  EXPECT_TRUE(ComputePlan(doc, state, {}).changes.empty());
  Plan pruned = ComputePlan(doc, state, {false, false, true});
  ASSERT_EQ(pruned.changes.size(), 1u);
  EXPECT_EQ(pruned.changes[0].address.ToString(), "network.old");
  EXPECT_EQ(pruned.changes[0].action, Action::kDelete);
}

TEST(PlannerTest, ProjectKeepsOnlyDeclaredSubFields) {
  Json observed = Json::array({{{"network", "n"}, {"mac", "52:54:00:00:00:01"}},
                               {{"network", "m"}, {"mac", "52:54:00:00:00:02"}}});
  Json desired = Json::array({{{"network", "n"}}});
  Json projected = Project(observed, desired);
  EXPECT_EQ(projected, Json::array({{{"network", "n"}}, {{"network", "m"}}}));
}

TEST(PlannerTest, FingerprintChangesWhenAPlannedResourceChanges) {
  ObservedState state = StateWith({Observed(Kind::kDomain, "web1", ObservedWeb1(1, "stopped"))});
  Plan before = ComputePlan(Parse(kWeb1), state, {});
  state.resources[Address{Kind::kDomain, "web1"}].spec["memory"] = "768MiB";
  Plan after = ComputePlan(Parse(kWeb1), state, {});
  EXPECT_NE(before.fingerprint, after.fingerprint);
  EXPECT_EQ(before.fingerprint.rfind("fnv1a64:", 0), 0u);
}

}  // namespace
}  // namespace vc
