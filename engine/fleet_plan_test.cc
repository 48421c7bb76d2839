// Plans of fleet documents (hosts:): placement, moves, drains and skipped hosts, planned against
// observations made up here (the real daemons are in tests/integration/test_fleet.py).
#include <gtest/gtest.h>

#include "engine/document_parser.h"
#include "engine/placement.h"
#include "engine/planner.h"
#include "engine/size.h"

namespace vc {
namespace {

Document Load(const std::string& yaml) {
  Document doc;
  Diagnostics diags = ParseDocument(yaml, "fleet.yaml", &doc);
  Diagnostics placement = CheckPlacement(doc);
  diags.insert(diags.end(), placement.begin(), placement.end());
  EXPECT_FALSE(HasErrors(diags)) << (diags.empty() ? "" : diags[0].summary);
  return doc;
}

Address At(Kind kind, const std::string& name, const std::string& host) {
  return Address{kind, name, host};
}

void Put(ObservedState* state, Address address, Json spec, Json live = nullptr) {
  state->resources[address] = ObservedResource{address, std::move(spec), std::move(live), true, {}};
}

// A host's node info, as the fleet backend observes it (the resource host.<name>).
void PutHost(ObservedState* state, const std::string& name, int cpus, const std::string& memory,
             Json ksm = nullptr) {
  Address address = HostAddress(name);
  Json spec = Json::object();
  if (!ksm.is_null()) spec["ksm"] = ksm;
  state->resources[address] = ObservedResource{
      address, spec, nullptr, false,
      Json{{"cpus", cpus}, {"memory", ParseSize(memory).value()}, {"ksm_run_switch", "local"}}};
}

Json Domain(const std::string& state, Json disks = Json::array(), bool autostart = false) {
  return Json{{"vcpus", 1},         {"max_vcpus", 1},
              {"memory", "256MiB"}, {"max_memory", "256MiB"},
              {"disks", disks},     {"interfaces", Json::array()},
              {"state", state},     {"autostart", autostart},
              {"virt_type", "kvm"}};
}

const char* kHosts = R"(version: 1
ceph: {conf: /etc/ceph/ceph.conf}
hosts:
  hv-a: {connection: "qemu+tcp://127.0.0.2/system"}
  hv-b: {connection: "qemu+tcp://127.0.0.3/system"}
  hv-c: {connection: "qemu+tcp://127.0.0.4/system"}
)";

const Change* Find(const Plan& plan, const Address& address) {
  for (const Change& c : plan.changes) {
    if (c.address == address) return &c;
  }
  return nullptr;
}

std::string Summaries(const Plan& plan) {
  std::string out;
  for (const Diagnostic& d : plan.diagnostics) out += d.summary + "\n";
  return out;
}

TEST(FleetPlanTest, ChangingTheHostOfARunningCephGuestIsOneLiveMigrationOfMemoryOnly) {
  Document doc = Load(std::string(kHosts) + R"(rbd_images:
  rbd/web1: {size: 1GiB}
domains:
  web1: {host: hv-b, vcpus: 1, memory: 256MiB, autostart: true, disks: [{rbd: rbd/web1, target: vda}]}
)");
  ObservedState observed;
  Json disks = Json::array({{{"rbd", "rbd/web1"}, {"target", "vda"}, {"bus", "virtio"}}});
  Put(&observed, At(Kind::kDomain, "web1", "hv-a"), Domain("running", disks, true),
      Domain("running", disks, true));
  Put(&observed, At(Kind::kRbdImage, "rbd/web1", ""), {{"size", "1GiB"}});
  Plan plan = ComputePlan(doc, observed, {});
  ASSERT_TRUE(plan.applyable()) << Summaries(plan);
  ASSERT_EQ(plan.changes.size(), 1u) << PlanToJson(plan).dump(2);
  const Change& move = plan.changes[0];
  EXPECT_EQ(move.address, At(Kind::kDomain, "web1", "hv-b"));
  EXPECT_EQ(move.action, Action::kMigrate);
  EXPECT_EQ(move.from_host, "hv-a");
  EXPECT_EQ(move.disruption(), Disruption::kLive);
  ASSERT_FALSE(move.attributes.empty());
  EXPECT_EQ(move.attributes[0].path, "host");
  EXPECT_NE(move.attributes[0].reason.find("memory only"), std::string::npos);
  ASSERT_GE(move.steps.size(), 2u);
  EXPECT_EQ(move.steps[0].op, Step::Op::kMigrate);
  EXPECT_EQ(move.steps[0].address, At(Kind::kDomain, "web1", "hv-a"));
  EXPECT_EQ(move.steps[0].args["to"], "hv-b");
  EXPECT_EQ(move.steps[0].args["live"], true);
  EXPECT_TRUE(move.steps[0].args["copy_disks"].empty());
  // Autostart is the host's: set again on the new one.
  EXPECT_EQ(move.steps[1].op, Step::Op::kSetAutostart);
  EXPECT_EQ(move.steps[1].address.host, "hv-b");
  Json json = PlanToJson(plan);
  EXPECT_EQ(json["hosts"]["hv-b"]["connection"], "qemu+tcp://127.0.0.3/system");
  EXPECT_EQ(json["summary"]["migrate"], 1);
  EXPECT_EQ(json["changes"][0]["from_host"], "hv-a");

  // Where it is declared, nothing changes.
  ObservedState there = observed;
  there.resources.erase(At(Kind::kDomain, "web1", "hv-a"));
  Put(&there, At(Kind::kDomain, "web1", "hv-b"), Domain("running", disks, true),
      Domain("running", disks, true));
  EXPECT_TRUE(ComputePlan(doc, there, {}).changes.empty());
}

TEST(FleetPlanTest, TheFingerprintCoversBothEndsOfAMove) {
  Document doc =
      Load(std::string(kHosts) + "domains:\n  web1: {host: hv-b, vcpus: 1, memory: 256MiB}\n");
  ObservedState observed;
  Put(&observed, At(Kind::kDomain, "web1", "hv-a"), Domain("running"), Domain("running"));
  Plan plan = ComputePlan(doc, observed, {});
  ObservedState changed = observed;
  changed.resources[At(Kind::kDomain, "web1", "hv-a")].spec["vcpus"] = 2;
  EXPECT_NE(plan.fingerprint, ComputePlan(doc, changed, {}).fingerprint);
  ObservedState appeared = observed;
  Put(&appeared, At(Kind::kDomain, "other", "hv-b"), Domain("running"));
  EXPECT_EQ(plan.fingerprint, ComputePlan(doc, appeared, {}).fingerprint);
}

TEST(FleetPlanTest, PoolsAndNetworksAreOnEveryHostUnlessTheyListTheirs) {
  Document doc = Load(std::string(kHosts) + R"(pools:
  images: {type: dir, path: /srv/images}
  scratch: {type: dir, path: /srv/scratch, hosts: [hv-c]}
networks:
  backend: {mode: isolated}
)");
  Plan plan = ComputePlan(doc, ObservedState{}, {});
  for (const char* host : {"hv-a", "hv-b", "hv-c"}) {
    EXPECT_NE(Find(plan, At(Kind::kPool, "images", host)), nullptr) << host;
    EXPECT_NE(Find(plan, At(Kind::kNetwork, "backend", host)), nullptr) << host;
  }
  EXPECT_NE(Find(plan, At(Kind::kPool, "scratch", "hv-c")), nullptr);
  EXPECT_EQ(Find(plan, At(Kind::kPool, "scratch", "hv-a")), nullptr);
  EXPECT_EQ(plan.changes.size(), 7u);
}

TEST(FleetPlanTest, ALocalDiskIsCopiedIntoAVolumeMadeFirstAndItsSourceDeletedAfterTheMove) {
  Document doc = Load(std::string(kHosts) + R"(pools:
  images: {type: dir, path: /var/lib/libvirt/images}
volumes:
  images/web1: {capacity: 1GiB}
domains:
  web1: {host: hv-b, vcpus: 1, memory: 256MiB, disks: [{volume: images/web1, target: vda}]}
)");
  ObservedState observed;
  Json disks = Json::array({{{"volume", "images/web1"}, {"target", "vda"}, {"bus", "virtio"}}});
  for (const char* host : {"hv-a", "hv-b", "hv-c"})
    Put(&observed, At(Kind::kPool, "images", host),
        {{"type", "dir"}, {"path", "/var/lib/libvirt/images"}, {"autostart", true}});
  Put(&observed, At(Kind::kVolume, "images/web1", "hv-a"),
      {{"capacity", "1GiB"}, {"format", "qcow2"}});
  Put(&observed, At(Kind::kDomain, "web1", "hv-a"), Domain("running", disks),
      Domain("running", disks));
  PlanOptions prune;
  prune.prune = true;
  Plan plan = ComputePlan(doc, observed, prune);
  ASSERT_TRUE(plan.applyable()) << Summaries(plan);
  ASSERT_EQ(plan.changes.size(), 2u) << PlanToJson(plan).dump(2);  // prune deletes nothing else
  EXPECT_EQ(plan.changes[0].address, At(Kind::kVolume, "images/web1", "hv-b"));
  EXPECT_EQ(plan.changes[0].action, Action::kCreate);
  const Change& move = plan.changes[1];
  EXPECT_EQ(move.action, Action::kMigrate);
  EXPECT_NE(move.attributes[0].reason.find("deleted once the guest runs on hv-b"),
            std::string::npos);
  ASSERT_GE(move.steps.size(), 2u);
  EXPECT_EQ(move.steps[0].args["copy_disks"], Json::array({"vda"}));
  EXPECT_EQ(move.steps[1].op, Step::Op::kDelete);
  EXPECT_EQ(move.steps[1].address, At(Kind::kVolume, "images/web1", "hv-a"));
}

TEST(FleetPlanTest, AStoppedDomainWithALocalDiskIsRefusedAndOneWithoutMovesItsDefinition) {
  Document doc = Load(std::string(kHosts) + R"(domains:
  web1: {host: hv-b, vcpus: 1, memory: 256MiB, state: stopped, disks: [{volume: images/web1, target: vda}]}
  web2: {host: hv-b, vcpus: 1, memory: 256MiB, state: stopped}
)");
  ObservedState observed;
  Json disks = Json::array({{{"volume", "images/web1"}, {"target", "vda"}, {"bus", "virtio"}}});
  Put(&observed, At(Kind::kVolume, "images/web1", "hv-a"), {{"capacity", "1GiB"}});
  Put(&observed, At(Kind::kVolume, "images/web1", "hv-b"), {{"capacity", "1GiB"}});
  Put(&observed, At(Kind::kDomain, "web1", "hv-a"), Domain("stopped", disks));
  Put(&observed, At(Kind::kDomain, "web2", "hv-a"), Domain("stopped"));
  Plan plan = ComputePlan(doc, observed, {});
  EXPECT_FALSE(plan.applyable());
  EXPECT_NE(Summaries(plan).find("web1: cannot move from hv-a to hv-b: it is stopped"),
            std::string::npos)
      << Summaries(plan);
  const Change* web2 = Find(plan, At(Kind::kDomain, "web2", "hv-b"));
  ASSERT_NE(web2, nullptr);
  EXPECT_EQ(web2->disruption(), Disruption::kNone);
  EXPECT_EQ(web2->steps[0].args["live"], false);
}

TEST(FleetPlanTest, DrainMovesEachRunningDomainToTheLeastLoadedHostThatCanRunIt) {
  Document doc = Load(R"(version: 1
hosts:
  hv-a: {connection: "test:///a", maintenance: true}
  hv-b: {connection: "test:///b"}
  hv-c: {connection: "test:///c"}
domains:
  big: {host: hv-a, vcpus: 1, memory: 2GiB}
  small: {host: hv-a, vcpus: 1, memory: 256MiB}
  off: {host: hv-a, vcpus: 1, memory: 256MiB, state: stopped}
  busy: {host: hv-c, vcpus: 1, memory: 1GiB}
)");
  ObservedState observed;
  Json big = Domain("running");
  big["memory"] = big["max_memory"] = "2GiB";
  Json busy = Domain("running");
  busy["memory"] = busy["max_memory"] = "1GiB";
  Put(&observed, At(Kind::kDomain, "big", "hv-a"), big, big);
  Put(&observed, At(Kind::kDomain, "small", "hv-a"), Domain("running"), Domain("running"));
  Put(&observed, At(Kind::kDomain, "off", "hv-a"), Domain("stopped"));
  Put(&observed, At(Kind::kDomain, "busy", "hv-c"), busy, busy);
  Put(&observed, At(Kind::kDomain, "stray", "hv-a"), Domain("running"), Domain("running"));
  for (const char* host : {"hv-a", "hv-b", "hv-c"}) PutHost(&observed, host, 4, "8GiB");
  Plan plan = ComputePlan(doc, observed, {});
  ASSERT_TRUE(plan.applyable()) << Summaries(plan);
  // big (2GiB) goes to the empty hv-b; small then to hv-c (1GiB < 2GiB); the undeclared stray
  // (256MiB) follows to hv-c too (1.25GiB < 2GiB): the most memory headroom left each time (the
  // vCPUs are far from their limit); the stopped one stays.
  EXPECT_NE(Find(plan, At(Kind::kDomain, "big", "hv-b")), nullptr) << PlanToJson(plan).dump(2);
  EXPECT_NE(Find(plan, At(Kind::kDomain, "small", "hv-c")), nullptr);
  EXPECT_NE(Find(plan, At(Kind::kDomain, "stray", "hv-c")), nullptr);
  EXPECT_EQ(Find(plan, At(Kind::kDomain, "off", "hv-b")), nullptr);
  EXPECT_EQ(Find(plan, At(Kind::kDomain, "off", "hv-c")), nullptr);
  EXPECT_EQ(plan.changes.size(), 3u);
  EXPECT_NE(Find(plan, At(Kind::kDomain, "big", "hv-b"))
                ->attributes[0]
                .reason.find("hv-a is in maintenance"),
            std::string::npos);

  // hv-c cannot run small's CPU: it goes to hv-b.
  ObservedState picky = observed;
  picky.cpu_checks[CpuCheckKey(At(Kind::kDomain, "small", "hv-a"), "hv-c")] =
      Json::array({"avx512f"});
  Plan second = ComputePlan(doc, picky, {});
  EXPECT_NE(Find(second, At(Kind::kDomain, "small", "hv-b")), nullptr);

  // Nowhere to go: refused, nothing planned to run.
  picky.cpu_checks[CpuCheckKey(At(Kind::kDomain, "small", "hv-a"), "hv-b")] =
      Json{{"error", "KVM is not available"}};
  Plan third = ComputePlan(doc, picky, {});
  EXPECT_FALSE(third.applyable());
  EXPECT_NE(Summaries(third).find("cannot drain hv-a: no host can take it (hv-b: KVM is "
                                  "not available; hv-c: its CPU lacks avx512f)"),
            std::string::npos)
      << Summaries(third);

  // Once it runs elsewhere, the mark moves nothing back.
  ObservedState drained;
  Put(&drained, At(Kind::kDomain, "big", "hv-b"), big, big);
  Put(&drained, At(Kind::kDomain, "small", "hv-c"), Domain("running"), Domain("running"));
  Put(&drained, At(Kind::kDomain, "off", "hv-a"), Domain("stopped"));
  Put(&drained, At(Kind::kDomain, "busy", "hv-c"), busy, busy);
  EXPECT_TRUE(ComputePlan(doc, drained, {}).changes.empty())
      << PlanToJson(ComputePlan(doc, drained, {})).dump(2);
}

TEST(FleetPlanTest, ACpuTheDestinationLacksIsRefusedNamingTheFeatures) {
  Document doc =
      Load(std::string(kHosts) + "domains:\n  web1: {host: hv-b, vcpus: 1, memory: 256MiB}\n");
  ObservedState observed;
  Put(&observed, At(Kind::kDomain, "web1", "hv-a"), Domain("running"), Domain("running"));
  observed.cpu_checks[CpuCheckKey(At(Kind::kDomain, "web1", "hv-a"), "hv-b")] =
      Json::array({"avx512f", "avx512vl"});
  Plan plan = ComputePlan(doc, observed, {});
  EXPECT_FALSE(plan.applyable());
  EXPECT_NE(Summaries(plan).find("its CPU needs features hv-b lacks: avx512f, avx512vl"),
            std::string::npos)
      << Summaries(plan);
}

TEST(FleetPlanTest, ASkippedHostIsNamedAndNothingIsCreatedThatMayRunThere) {
  Document doc = Load(std::string(kHosts) + R"(networks:
  backend: {mode: isolated}
domains:
  web1: {host: hv-b, vcpus: 1, memory: 256MiB}
  web2: {host: hv-c, vcpus: 1, memory: 256MiB}
)");
  ObservedState observed;
  observed.skipped_hosts["hv-c"] = "connection refused";
  PlanOptions options;
  options.skip_unreachable = true;
  Plan plan = ComputePlan(doc, observed, options);
  EXPECT_TRUE(plan.applyable()) << Summaries(plan);
  EXPECT_NE(Find(plan, At(Kind::kNetwork, "backend", "hv-a")), nullptr);
  EXPECT_EQ(Find(plan, At(Kind::kNetwork, "backend", "hv-c")), nullptr);
  EXPECT_EQ(Find(plan, At(Kind::kDomain, "web1", "hv-b")), nullptr);  // it may be on hv-c
  EXPECT_EQ(Find(plan, At(Kind::kDomain, "web2", "hv-c")), nullptr);
  EXPECT_NE(Summaries(plan).find("host hv-c skipped: connection refused"), std::string::npos);
  EXPECT_NE(Summaries(plan).find("web1: not created on hv-b: hv-c could not be asked"),
            std::string::npos)
      << Summaries(plan);
  EXPECT_EQ(PlanToJson(plan)["hosts"]["hv-c"]["skipped"], "connection refused");
}

TEST(FleetPlanTest, ADomainDefinedOnTwoHostsIsAnError) {
  Document doc =
      Load(std::string(kHosts) + "domains:\n  web1: {host: hv-b, vcpus: 1, memory: 256MiB}\n");
  ObservedState observed;
  Put(&observed, At(Kind::kDomain, "web1", "hv-a"), Domain("stopped"));
  Put(&observed, At(Kind::kDomain, "web1", "hv-b"), Domain("stopped"));
  Plan plan = ComputePlan(doc, observed, {});
  EXPECT_FALSE(plan.applyable());
  EXPECT_NE(Summaries(plan).find("domain web1 is defined on hv-a and hv-b"), std::string::npos);
}

TEST(FleetPlanTest, ABaselineCpuIsTheFleetsAndThePlanShowsTheModelChosen) {
  Document doc =
      Load(std::string(kHosts) +
           "domains:\n  web1: {host: hv-a, vcpus: 1, memory: 256MiB, cpu: {mode: baseline}}\n");
  ObservedState observed;
  Json running = Domain("running");
  running["cpu"] = {{"mode", "custom"}, {"model", "qemu64"}};
  Put(&observed, At(Kind::kDomain, "web1", "hv-a"), running, running);
  observed.cpu_baseline = {{"mode", "custom"}, {"model", "Westmere"}, {"require", {"aes"}}};
  Plan plan = ComputePlan(doc, observed, {});
  ASSERT_EQ(plan.changes.size(), 1u) << Summaries(plan);
  const AttributeChange& cpu = plan.changes[0].attributes[0];
  EXPECT_EQ(cpu.path, "cpu");
  EXPECT_EQ(cpu.after, observed.cpu_baseline);
  EXPECT_EQ(cpu.disruption, Disruption::kRestart);
  EXPECT_NE(cpu.reason.find("the baseline of every host that answered: Westmere"),
            std::string::npos)
      << cpu.reason;

  observed.cpu_baseline = {{"error", "no common CPU"}};
  EXPECT_NE(
      Summaries(ComputePlan(doc, observed, {})).find("no CPU baseline of the fleet: no common CPU"),
      std::string::npos);
}

TEST(FleetPlanTest, PlacementFieldsAreCheckedWithoutAHost) {
  auto problems = [](const std::string& yaml) {
    Document doc;
    Diagnostics diags = ParseDocument(yaml, "x.yaml", &doc);
    if (HasErrors(diags)) return diags[0].summary;
    Diagnostics placement = CheckPlacement(doc);
    return placement.empty() ? std::string() : placement[0].summary;
  };
  EXPECT_NE(problems("version: 1\ndomains:\n  web1: {host: hv-a, vcpus: 1, memory: 1GiB}\n")
                .find("domains.web1.host: only in a fleet"),
            std::string::npos);
  EXPECT_NE(problems(std::string(kHosts) + "domains:\n  web1: {vcpus: 1, memory: 1GiB}\n")
                .find("domains.web1.host: missing required field"),
            std::string::npos);
  EXPECT_NE(
      problems(std::string(kHosts) + "domains:\n  web1: {host: hv-z, vcpus: 1, memory: 1GiB}\n")
          .find("host hv-z is not declared"),
      std::string::npos);
  EXPECT_NE(problems("version: 1\nconnection: test:///default\nhosts:\n  a: {connection: x}\n")
                .find("cannot be used together"),
            std::string::npos);
  EXPECT_NE(problems("version: 1\ndomains:\n  w: {vcpus: 1, memory: 1GiB, cpu: {mode: baseline}}\n")
                .find("it needs a hosts: section"),
            std::string::npos);
  EXPECT_NE(problems("version: 1\nhosts:\n  a: {connection: 'two words'}\n").find("libvirt URI"),
            std::string::npos);
  EXPECT_NE(problems("version: 1\nhosts:\n  a: {connection: x, maintenanse: true}\n")
                .find("did you mean 'maintenance'"),
            std::string::npos);
}

}  // namespace
}  // namespace vc
