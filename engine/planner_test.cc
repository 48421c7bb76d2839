#include "engine/planner.h"

#include <gtest/gtest.h>

#include "engine/diff.h"
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
  return ObservedResource{{kind, name}, std::move(spec), std::move(live), false, {}};
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
  return Json{
      {"vcpus", vcpus},
      {"max_vcpus", 4},
      {"memory", "512MiB"},
      {"max_memory", "1GiB"},
      {"disks", Json::array({{{"volume", "p/root"}, {"target", "vda"}, {"bus", "virtio"}}})},
      {"interfaces",
       Json::array({{{"network", "n"}, {"mac", "52:54:00:aa:bb:cc"}, {"model", "virtio"}}})},
      {"state", state},
      {"autostart", false},
      {"virt_type", "kvm"}};
}

ObservedState StateWith(std::vector<ObservedResource> resources) {
  ObservedState state;
  state.connection = "test:///default";
  for (ObservedResource& r : resources) state.resources[r.address] = r;
  state.resources[Address{Kind::kVolume, "p/root"}] =
      Observed(Kind::kVolume, "p/root", {{"capacity", "1GiB"}});
  state.resources[Address{Kind::kNetwork, "n"}] =
      Observed(Kind::kNetwork, "n", {{"mode", "isolated"}});
  state.resources[Address{Kind::kPool, "p"}] =
      Observed(Kind::kPool, "p", {{"type", "dir"}, {"path", "/srv/p"}});
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

ObservedResource Running(int config_vcpus, int live_vcpus) {
  ObservedResource r = Observed(Kind::kDomain, "web1", ObservedWeb1(config_vcpus, "running"),
                                ObservedWeb1(live_vcpus, "running"));
  r.facts = {{"memory_total", "512MiB"},
             {"memory_slots", 16},
             {"memory_slots_used", 0},
             {"hotplug_max_memory", "1GiB"}};
  return r;
}

std::vector<Step::Op> Ops(const std::vector<Step>& steps) {
  std::vector<Step::Op> ops;
  for (const Step& s : steps) ops.push_back(s.op);
  return ops;
}

TEST(PlannerTest, RaisingVcpusOnARunningDomainIsLiveHotPlug) {
  ObservedState state = StateWith({Running(1, 1)});
  Plan plan = ComputePlan(Parse(kWeb1), state, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& change = plan.changes[0];
  ASSERT_EQ(change.attributes.size(), 1u);
  EXPECT_EQ(change.attributes[0].path, "vcpus");
  EXPECT_EQ(change.attributes[0].disruption, Disruption::kLive);
  EXPECT_EQ(change.attributes[0].reason, "hot-plug");
  EXPECT_EQ(Ops(change.steps),
            (std::vector<Step::Op>{Step::Op::kWriteConfig, Step::Op::kSetVcpusLive}));
}

TEST(PlannerTest, LoweringVcpusNeedsARestartAndRestartsOnlyWhenAllowed) {
  ObservedState state = StateWith({Running(3, 3)});
  Plan plan = ComputePlan(Parse(kWeb1), state, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& change = plan.changes[0];
  EXPECT_EQ(change.disruption(), Disruption::kRestart);
  EXPECT_EQ(Ops(change.steps), (std::vector<Step::Op>{Step::Op::kWriteConfig}));
  EXPECT_EQ(Ops(ComputePlan(Parse(kWeb1), state, {false, true, false}).changes[0].steps),
            (std::vector<Step::Op>{Step::Op::kWriteConfig, Step::Op::kShutdown, Step::Op::kStart}));
  // Per-domain `restart: allowed` does the same as --allow-restart.
  Document allowed = Parse(std::string(kWeb1) + "    restart: allowed\n");
  Plan per_domain = ComputePlan(allowed, state, {});
  ASSERT_EQ(per_domain.changes.size(), 1u);
  EXPECT_EQ(Ops(per_domain.changes[0].steps),
            (std::vector<Step::Op>{Step::Op::kWriteConfig, Step::Op::kShutdown, Step::Op::kStart}));
}

TEST(PlannerTest, SameChangeOnStoppedDomainIsNotDisruptive) {
  ObservedState state = StateWith({Observed(Kind::kDomain, "web1", ObservedWeb1(1, "stopped"))});
  Plan plan = ComputePlan(Parse(kWeb1), state, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].disruption(), Disruption::kNone);
  EXPECT_EQ(Ops(plan.changes[0].steps), (std::vector<Step::Op>{Step::Op::kWriteConfig}));
}

TEST(PlannerTest, ConfigAheadOfRunningGuestIsPendingNotAChange) {
  ObservedState state = StateWith({Running(2, 3)});  // unplug written to config earlier
  Plan plan = ComputePlan(Parse(kWeb1), state, {});
  EXPECT_TRUE(plan.changes.empty());
  ASSERT_EQ(plan.pending.size(), 1u);
  EXPECT_EQ(plan.pending[0].path, "vcpus");
  EXPECT_EQ(plan.pending[0].live, 3);
  EXPECT_EQ(plan.pending[0].config, 2);
  Plan restart = ComputePlan(Parse(kWeb1), state, {false, true, false});
  ASSERT_EQ(restart.changes.size(), 1u);
  EXPECT_EQ(restart.changes[0].disruption(), Disruption::kRestart);
  EXPECT_TRUE(restart.pending.empty());
}

TEST(PlannerTest, MemoryBalloonsWithinBootMemoryAndHotAddsDimmsAbove) {
  ObservedState state = StateWith({Running(2, 2)});
  auto plan_memory = [&](const std::string& memory, const std::string& extra = "") {
    std::string doc = std::string(kWeb1);
    doc.replace(doc.find("memory: 512MiB"), 14, "memory: " + memory);
    return ComputePlan(Parse(doc + extra), state, {});
  };
  Plan balloon = plan_memory("384MiB");
  ASSERT_EQ(balloon.changes.size(), 1u);
  EXPECT_EQ(balloon.changes[0].attributes[0].reason, "balloon");
  EXPECT_EQ(Ops(balloon.changes[0].steps),
            (std::vector<Step::Op>{Step::Op::kWriteConfig, Step::Op::kSetMemoryLive}));
  Plan dimm = plan_memory("1GiB");
  ASSERT_EQ(dimm.changes.size(), 1u);
  EXPECT_EQ(dimm.changes[0].attributes[0].disruption, Disruption::kLive);
  EXPECT_EQ(dimm.changes[0].attributes[0].reason, "+512MiB DIMM");
  std::vector<Step> steps = dimm.changes[0].steps;
  ASSERT_EQ(Ops(steps),
            (std::vector<Step::Op>{Step::Op::kWriteConfig, Step::Op::kAttachMemoryLive}));
  EXPECT_EQ(steps[1].args["bytes"], 512u << 20);
  // A DIMM unit that does not divide the step: round up, then balloon to the exact value.
  Plan rounded = plan_memory("576MiB", "    memory_hotplug_unit: 256MiB\n");
  ASSERT_EQ(rounded.changes.size(), 1u);
  EXPECT_EQ(rounded.changes[0].attributes[0].reason, "+256MiB DIMM, balloon to 576MiB");
  EXPECT_EQ(Ops(rounded.changes[0].steps),
            (std::vector<Step::Op>{Step::Op::kWriteConfig, Step::Op::kAttachMemoryLive,
                                   Step::Op::kSetMemoryLive}));
}

// A guest whose balloon did not follow (virt-install --memory 256,maxmemory=1024 without a
// balloon driver: running at 512MiB, config 384MiB) and that reports no memory statistics: the
// balloon change waits (pending, saying why) instead of failing every apply.
TEST(PlannerTest, ABalloonTheGuestCannotFollowIsPendingNotAChange) {
  ObservedResource r = Running(2, 2);
  r.spec["memory"] = "384MiB";
  r.facts["balloon_driver"] = "silent";
  std::string doc = std::string(kWeb1);
  doc.replace(doc.find("memory: 512MiB"), 14, "memory: 384MiB");
  Plan plan = ComputePlan(Parse(doc), StateWith({r}), {});
  EXPECT_TRUE(plan.changes.empty());
  ASSERT_EQ(plan.pending.size(), 1u);
  EXPECT_EQ(plan.pending[0].path, "memory");
  EXPECT_NE(plan.pending[0].reason.find("balloon driver does not answer"), std::string::npos);
  // When its driver answers, the same plan balloons.
  r.facts["balloon_driver"] = "answers";
  Plan balloon = ComputePlan(Parse(doc), StateWith({r}), {});
  ASSERT_EQ(balloon.changes.size(), 1u);
  EXPECT_EQ(balloon.changes[0].attributes[0].reason, "balloon");
}

TEST(PlannerTest, DeletingADomainMergesItsSnapshotsFirstAndIsDestructive) {
  ObservedResource r = Running(2, 2);
  r.spec["snapshots"] = {"s1", "s2"};
  Document doc = Parse("version: 1\ndomains:\n  web1: {ensure: absent}\n");
  Plan refused = ComputePlan(doc, StateWith({r}), {});
  ASSERT_EQ(refused.changes.size(), 1u);
  EXPECT_EQ(refused.changes[0].disruption(), Disruption::kDestructive);
  EXPECT_FALSE(refused.applyable());
  Plan allowed = ComputePlan(doc, StateWith({r}), {true, false, false});
  EXPECT_EQ(Ops(allowed.changes[0].steps),
            (std::vector<Step::Op>{Step::Op::kShutdown, Step::Op::kDeleteDomainSnapshot,
                                   Step::Op::kDeleteDomainSnapshot, Step::Op::kDelete}));
  EXPECT_EQ(allowed.changes[0].steps[1].args["running"], false);
}

TEST(PlannerTest, MemoryWithoutHotplugHeadroomNeedsARestart) {
  ObservedResource r = Running(2, 2);
  r.facts["memory_slots"] = 0;
  ObservedState state = StateWith({r});
  std::string doc = std::string(kWeb1);
  doc.replace(doc.find("memory: 512MiB"), 14, "memory: 1GiB");
  Plan plan = ComputePlan(Parse(doc), state, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].attributes[0].disruption, Disruption::kRestart);
  EXPECT_NE(plan.changes[0].attributes[0].reason.find("no free memory hot-plug slot"),
            std::string::npos);
}

TEST(PlannerTest, RaisingTheCeilingsNeedsARestart) {
  ObservedState state = StateWith({Running(2, 2)});
  Plan plan = ComputePlan(Parse(std::string(kWeb1) + "    max_vcpus: 8\n    max_memory: 2GiB\n"),
                          state, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  for (const AttributeChange& a : plan.changes[0].attributes) {
    EXPECT_EQ(a.disruption, Disruption::kRestart) << a.path;
  }
}

TEST(PlannerTest, DisksAndNicsAreHotPluggedAndNewNicsGetOneMac) {
  ObservedState state = StateWith({Running(2, 2)});
  state.resources[Address{Kind::kVolume, "p/data"}] =
      Observed(Kind::kVolume, "p/data", {{"capacity", "1GiB"}});
  Document doc = Parse(R"(version: 1
domains:
  web1:
    vcpus: 2
    memory: 512MiB
    disks: [{volume: p/root, target: vda}, {volume: p/data, target: vdb}]
    interfaces: [{network: n}, {network: n}]
)");
  Plan plan = ComputePlan(doc, state, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  ASSERT_EQ(plan.changes[0].attributes.size(), 2u);
  EXPECT_EQ(plan.changes[0].attributes[0].reason, "attach vdb");
  EXPECT_EQ(plan.changes[0].attributes[1].reason, "attach 1 NIC(s)");
  std::vector<Step> steps = plan.changes[0].steps;
  ASSERT_EQ(Ops(steps), (std::vector<Step::Op>{Step::Op::kWriteConfig, Step::Op::kAttachDiskLive,
                                               Step::Op::kAttachInterfaceLive}));
  std::string mac = steps[2].args["mac"];
  EXPECT_EQ(mac.rfind("52:54:00:", 0), 0u);
  EXPECT_EQ(steps[0].args["interfaces"][1]["mac"], mac) << "config and guest must agree on the MAC";
  EXPECT_EQ(steps[0].args["interfaces"][0]["mac"], "52:54:00:aa:bb:cc")
      << "the existing NIC keeps its own MAC";
}

TEST(PlannerTest, RemovedDisksAndNicsAreDetachedLive) {
  ObservedResource r = Running(2, 2);
  Json two_disks = Json::array({{{"volume", "p/root"}, {"target", "vda"}, {"bus", "virtio"}},
                                {{"volume", "p/data"}, {"target", "vdb"}, {"bus", "virtio"}}});
  r.spec["disks"] = r.live["disks"] = two_disks;
  r.live["interfaces"].push_back(
      {{"network", "n"}, {"mac", "52:54:00:00:00:77"}, {"model", "virtio"}});
  r.spec["interfaces"] = r.live["interfaces"];
  ObservedState state = StateWith({r});
  Plan plan = ComputePlan(Parse(kWeb1), state, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  std::vector<Step> steps = plan.changes[0].steps;
  ASSERT_EQ(Ops(steps), (std::vector<Step::Op>{Step::Op::kWriteConfig, Step::Op::kDetachDiskLive,
                                               Step::Op::kDetachInterfaceLive}));
  EXPECT_EQ(steps[1].args["target"], "vdb");
  EXPECT_EQ(steps[2].args["mac"], "52:54:00:00:00:77");
}

// Domain snapshots (engine/domain_snapshots.h): a set; taking one is live and says how it is
// made consistent; deleting one is destructive.
const char* kWeb1Snapshots = R"(version: 1
domains:
  web1:
    vcpus: 2
    memory: 512MiB
    disks: [{volume: p/root, target: vda}]
    interfaces: [{network: n}]
    snapshots: [s2, s1]
)";

TEST(PlannerTest, SnapshotsAreASetTakenQuiescedWhenTheAgentAnswers) {
  Document doc = Parse(kWeb1Snapshots);
  Json spec = ObservedWeb1(2, "running");
  spec["snapshots"] = {"s1"};
  ObservedResource web1 = Observed(Kind::kDomain, "web1", spec, spec);
  web1.facts = {{"guest_agent", "connected"}};
  Plan plan = ComputePlan(doc, StateWith({web1}), {});
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].disruption(), Disruption::kLive);
  ASSERT_EQ(plan.changes[0].steps.size(), 1u);
  const Step& step = plan.changes[0].steps[0];
  EXPECT_EQ(step.op, Step::Op::kSnapshotDomain);
  EXPECT_EQ(step.args["snapshot"], "s2");
  EXPECT_EQ(step.args["consistency"], "quiesce");
  EXPECT_EQ(step.args["disks"], Json::parse(R"([{"target": "vda", "volume": "p/root"}])"));

  web1.facts = {{"guest_agent", "disconnected"}};
  Plan paused = ComputePlan(doc, StateWith({web1}), {});
  EXPECT_EQ(paused.changes[0].steps[0].args["consistency"], "pause");

  // The same names in another order: nothing to do.
  spec["snapshots"] = {"s1", "s2"};
  Plan same = ComputePlan(doc, StateWith({Observed(Kind::kDomain, "web1", spec, spec)}), {});
  EXPECT_TRUE(same.changes.empty());
}

// A snapshot record that is not what virtconverge writes (observe's fact) is never acted on:
// the plan refuses to take snapshots on it, naming the domain and how to clear it.
TEST(PlannerTest, ABadSnapshotRecordIsRefusedNotActedOn) {
  Document doc = Parse(kWeb1Snapshots);
  Json spec = ObservedWeb1(2, "running");
  ObservedResource web1 = Observed(Kind::kDomain, "web1", spec, spec);
  web1.facts = {{"snapshot_record_error", "snapshot s1, disk vda: overlay '/etc/passwd' on ..."}};
  Plan plan = ComputePlan(doc, StateWith({web1}), {});
  EXPECT_FALSE(plan.applyable());
  ASSERT_FALSE(plan.diagnostics.empty());
  EXPECT_NE(plan.diagnostics[0].summary.find("domains.web1: its snapshot record is not one"),
            std::string::npos)
      << plan.diagnostics[0].summary;
  EXPECT_NE(plan.diagnostics[0].summary.find("virsh metadata web1"), std::string::npos);
}

TEST(PlannerTest, DeletingASnapshotIsDestructiveAndComesBeforeTakingOne) {
  Document doc = Parse(kWeb1Snapshots);
  Json spec = ObservedWeb1(2, "stopped");
  spec["snapshots"] = {"s0", "s1"};
  ObservedState state = StateWith({Observed(Kind::kDomain, "web1", spec)});
  Plan refused = ComputePlan(doc, state, {});
  ASSERT_EQ(refused.changes.size(), 1u);
  EXPECT_EQ(refused.changes[0].disruption(), Disruption::kDestructive);
  EXPECT_FALSE(refused.applyable());
  Plan allowed = ComputePlan(doc, state, {true, false, false});
  ASSERT_TRUE(allowed.applyable());
  const std::vector<Step>& steps = allowed.changes[0].steps;
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].op, Step::Op::kDeleteDomainSnapshot);
  EXPECT_EQ(steps[0].args["snapshot"], "s0");
  EXPECT_EQ(steps[0].args["running"], false);
  EXPECT_EQ(steps[1].op, Step::Op::kSnapshotDomain);
  EXPECT_EQ(steps[1].args["consistency"], "stopped");
}

TEST(PlannerTest, ANewDomainTakesItsSnapshotsAfterItStarts) {
  Document doc = Parse(kWeb1Snapshots);
  Plan plan = ComputePlan(doc, StateWith({}), {});
  ASSERT_EQ(plan.changes.size(), 1u);
  std::vector<std::string> ops;
  for (const Step& step : plan.changes[0].steps) ops.push_back(std::string(OpName(step.op)));
  EXPECT_EQ(ops,
            (std::vector<std::string>{"create", "start", "snapshot_domain", "snapshot_domain"}));
  EXPECT_EQ(plan.changes[0].steps[2].args["consistency"], "pause");
}

// Partial declarations (engine/create_requirements.h): an existing resource may be declared with
// only the fields the document manages; what creating needs is asked only of a create.
TEST(PlannerTest, APartialDeclarationOfAnExistingDomainChangesOnlyItsFields) {
  Document doc = Parse("version: 1\ndomains:\n  web1: {autostart: true}\n");
  Plan plan = ComputePlan(
      doc, StateWith({Observed(Kind::kDomain, "web1", ObservedWeb1(2, "stopped"))}), {});
  ASSERT_TRUE(plan.applyable());
  ASSERT_EQ(plan.changes.size(), 1u);
  ASSERT_EQ(plan.changes[0].attributes.size(), 1u);
  EXPECT_EQ(plan.changes[0].attributes[0].path, "autostart");
  ASSERT_EQ(plan.changes[0].steps.size(), 1u);
  EXPECT_EQ(plan.changes[0].steps[0].op, Step::Op::kSetAutostart);
}

TEST(PlannerTest, CreatingFromAPartialDeclarationSaysWhatIsMissing) {
  Document doc = Parse(
      "version: 1\nceph: {conf: /etc/ceph/ceph.conf}\nvolumes:\n  p/new: {format: qcow2}\n"
      "rbd_images:\n  rbd/img: {features: [layering]}\ndomains:\n  web9: {vcpus: 2}\n");
  Plan plan = ComputePlan(doc, StateWith({}), {});
  EXPECT_FALSE(plan.applyable());
  std::vector<std::string> summaries;
  for (const Diagnostic& d : plan.diagnostics) {
    EXPECT_EQ(d.code, ErrorCode::kMissingField);
    summaries.push_back(d.summary);
  }
  EXPECT_EQ(summaries,
            (std::vector<std::string>{"volumes.p/new: creating needs capacity (or backing_volume)",
                                      "rbd_images.rbd/img: creating needs size (or clone_from)",
                                      "domains.web9: creating needs memory"}));
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
  ObservedState state = StateWith(
      {Observed(Kind::kDomain, "web1", ObservedWeb1(2, "running"), ObservedWeb1(2, "running"))});
  Plan plan = ComputePlan(doc, state, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].disruption(), Disruption::kLive);
  std::vector<Step> steps = plan.changes[0].steps;
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].op, Step::Op::kBlockResize);
  EXPECT_EQ(steps[0].address.ToString(), "domain.web1");
  EXPECT_EQ(steps[0].args["target"], "vda");
}

TEST(PlannerTest, FormatChangeReplacesTheVolume) {
  Document doc = Parse("version: 1\nvolumes:\n  p/root: {capacity: 1GiB, format: raw}\n");
  ObservedState state = StateWith({});
  state.resources[Address{Kind::kVolume, "p/root"}].spec["format"] = "qcow2";
  Plan plan = ComputePlan(doc, state, {true, false, false});
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].action, Action::kReplace);
  std::vector<Step> steps = plan.changes[0].steps;
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].op, Step::Op::kDelete);
  EXPECT_EQ(steps[1].op, Step::Op::kCreate);
}

TEST(PlannerTest, AbsentDeletesAndRunningDomainIsShutDownFirst) {
  Document doc = Parse("version: 1\ndomains:\n  web1: {ensure: absent}\n");
  ObservedState state = StateWith(
      {Observed(Kind::kDomain, "web1", ObservedWeb1(2, "running"), ObservedWeb1(2, "running"))});
  Plan plan = ComputePlan(doc, state, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].action, Action::kDelete);
  std::vector<Step> steps = plan.changes[0].steps;
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

TEST(PlannerTest, ChosenMacsAreDeterministicAndUniqueOnTheHost) {
  Document doc = Parse(
      "version: 1\ndomains:\n  new1: {vcpus: 1, memory: 64MiB, interfaces: [{network: n}, "
      "{network: n}]}\n");
  ObservedState state = StateWith({});
  Plan first = ComputePlan(doc, state, {});
  Plan second = ComputePlan(doc, state, {});
  ASSERT_EQ(first.changes.size(), 1u);
  const Json& nics = first.changes[0].steps[0].args["interfaces"];
  ASSERT_EQ(nics.size(), 2u);
  EXPECT_EQ(PlanToJson(first), PlanToJson(second)) << "the same inputs give the same plan";
  EXPECT_NE(nics[0]["mac"], nics[1]["mac"]);
  // A MAC already on the host is never chosen again.
  ObservedResource other = Observed(Kind::kDomain, "other", ObservedWeb1(1, "stopped"));
  other.spec["interfaces"][0]["mac"] = nics[0]["mac"];
  state.resources[other.address] = other;
  Plan third = ComputePlan(doc, state, {});
  EXPECT_NE(third.changes[0].steps[0].args["interfaces"][0]["mac"], nics[0]["mac"]);
  EXPECT_EQ(third.changes[0].steps[0].args["interfaces"][1]["mac"], nics[1]["mac"]);
}

TEST(PlannerTest, DimmSizeIsInThePlanInBytes) {
  ObservedState state = StateWith({Running(2, 2)});
  std::string doc = std::string(kWeb1);
  doc.replace(doc.find("memory: 512MiB"), 14, "memory: 700MiB");
  Plan plan = ComputePlan(Parse(doc), state, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  ASSERT_EQ(Ops(plan.changes[0].steps),
            (std::vector<Step::Op>{Step::Op::kWriteConfig, Step::Op::kAttachMemoryLive,
                                   Step::Op::kSetMemoryLive}));
  EXPECT_EQ(plan.changes[0].steps[1].args["bytes"], 256u << 20)
      << "188MiB rounded up to the 128MiB unit";
  EXPECT_EQ(plan.changes[0].steps[2].args["bytes"], 700u << 20);
}

TEST(PlannerTest, CloneFromAnUnprotectedSnapshotProtectsItInAStepOfItsOwn) {
  Document doc;
  ASSERT_FALSE(HasErrors(ParseDocument(R"(version: 1
ceph: {conf: /etc/ceph/ceph.conf}
rbd_images:
  rbd/base: {size: 1GiB, snapshots: [gold]}
  rbd/vm1: {clone_from: rbd/base@gold, snapshots: [s1], flatten: true}
)",
                                       "t.yaml", &doc)));
  ObservedState state = StateWith({});
  ObservedResource base =
      Observed(Kind::kRbdImage, "rbd/base", {{"size", "1GiB"}, {"snapshots", {"gold"}}});
  base.facts = {{"protected_snapshots", Json::array()}};
  state.resources[base.address] = base;
  Plan plan = ComputePlan(doc, state, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  const std::vector<Step>& steps = plan.changes[0].steps;
  ASSERT_EQ(Ops(steps), (std::vector<Step::Op>{Step::Op::kProtectSnapshot, Step::Op::kCreate,
                                               Step::Op::kCreateSnapshots, Step::Op::kFlatten}));
  EXPECT_EQ(steps[0].address.ToString(), "rbd_image.rbd/base");
  EXPECT_EQ(steps[0].args["snapshot"], "gold");
  EXPECT_EQ(steps[1].args.count("snapshots"), 0u) << "the create step makes the image only";
  state.resources[base.address].facts["protected_snapshots"] = {"gold"};
  EXPECT_EQ(ComputePlan(doc, state, {}).changes[0].steps[0].op, Step::Op::kCreate);
}

TEST(PlannerTest, NetworksOfModesThisVersionCannotCreateAreRefusedAtPlanTime) {
  ObservedState state = StateWith({});
  Plan nat = ComputePlan(Parse("version: 1\nnetworks:\n  wan: {mode: nat}\n"), state, {});
  ASSERT_FALSE(nat.applyable());
  EXPECT_EQ(nat.diagnostics[0].code, ErrorCode::kUnsupported);
  EXPECT_NE(nat.diagnostics[0].summary.find("networks.wan.mode"), std::string::npos);
  EXPECT_TRUE(
      ComputePlan(Parse("version: 1\nnetworks:\n  lan: {mode: bridge, bridge: br0}\n"), state, {})
          .applyable());
  // An existing NAT network can be declared: nothing to do.
  state.resources[Address{Kind::kNetwork, "wan"}] =
      Observed(Kind::kNetwork, "wan", {{"mode", "nat"}});
  Plan existing = ComputePlan(Parse("version: 1\nnetworks:\n  wan: {mode: nat}\n"), state, {});
  EXPECT_TRUE(existing.applyable());
  EXPECT_TRUE(existing.changes.empty());
}

TEST(PlannerTest, MemoryNotAboveTheConfigDimmsIsRefusedAtPlanTime) {
  ObservedResource r = Observed(Kind::kDomain, "web1", ObservedWeb1(2, "stopped"));
  r.facts = {{"config_dimm_memory", "512MiB"}};
  ObservedState state = StateWith({r});
  std::string doc = std::string(kWeb1);
  doc.replace(doc.find("memory: 512MiB"), 14, "memory: 256MiB");
  Plan plan = ComputePlan(Parse(doc), state, {});
  ASSERT_FALSE(plan.applyable());
  EXPECT_EQ(plan.diagnostics[0].code, ErrorCode::kInvalidValue);
  EXPECT_NE(plan.diagnostics[0].summary.find("domains.web1.memory"), std::string::npos)
      << plan.diagnostics[0].summary;
}

TEST(PlannerTest, DiscardOfARunningGuestsDiskIsARestartNotAnEmptyLiveChange) {
  ObservedResource r = Running(2, 2);
  for (Json* spec : {&r.spec, &r.live}) (*spec)["disks"][0]["discard"] = "unmap";
  ObservedState state = StateWith({r});
  std::string doc = std::string(kWeb1);
  doc.replace(doc.find("target: vda}"), 12, "target: vda, discard: ignore}");
  Plan plan = ComputePlan(Parse(doc), state, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  ASSERT_EQ(plan.changes[0].attributes.size(), 1u);
  EXPECT_EQ(plan.changes[0].attributes[0].disruption, Disruption::kRestart);
  EXPECT_EQ(Ops(plan.changes[0].steps), (std::vector<Step::Op>{Step::Op::kWriteConfig}));
}

TEST(PlannerTest, DiagnosticsCarryStableCodes) {
  Plan plan = ComputePlan(Parse("version: 1\ndomains:\n  web1: {vcpus: 1, memory: 64MiB, "
                                "interfaces: [{network: nowhere}]}\n"),
                          StateWith({}), {});
  ASSERT_EQ(plan.diagnostics.size(), 1u);
  EXPECT_EQ(plan.diagnostics[0].code, ErrorCode::kMissingReference);
  EXPECT_EQ(plan.diagnostics[0].related, "network.nowhere");
  Json json = DiagnosticToJson(plan.diagnostics[0]);
  EXPECT_EQ(json["code"], "missing_reference");
  EXPECT_EQ(json["transient"], false);
}

}  // namespace
}  // namespace vc
