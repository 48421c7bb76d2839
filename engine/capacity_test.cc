// Capacity and host settings in plans (engine/capacity.h, engine/host_rules.h): what each host
// commits before and after, the limits of its hosts: entry, KSM as a change of its own, and
// placement by headroom. Planned against observations made up here; the real daemon is in
// tests/integration/test_capacity.py.
#include "engine/capacity.h"

#include <gtest/gtest.h>

#include "engine/document_parser.h"
#include "engine/placement.h"
#include "engine/plan_text.h"
#include "engine/planner.h"
#include "engine/saved_plan.h"
#include "engine/schemas.h"
#include "engine/size.h"

namespace vc {
namespace {

Document Load(const std::string& yaml) {
  Document doc;
  Diagnostics diags = ParseDocument(yaml, "capacity.yaml", &doc);
  Diagnostics placement = CheckPlacement(doc);
  diags.insert(diags.end(), placement.begin(), placement.end());
  EXPECT_FALSE(HasErrors(diags)) << (diags.empty() ? "" : diags[0].summary);
  return doc;
}

// A host as the fleet backend observes it: node info as facts, KSM settings as its spec.
void PutHost(ObservedState* state, const std::string& name, int cpus, const std::string& memory,
             Json ksm = nullptr, const std::string& run_switch = "local") {
  Json spec = Json::object();
  if (!ksm.is_null()) spec["ksm"] = ksm;
  state->resources[HostAddress(name)] = ObservedResource{
      HostAddress(name), spec, nullptr, false,
      Json{{"cpus", cpus}, {"memory", ParseSize(memory).value()}, {"ksm_run_switch", run_switch}}};
}

// A domain running on `host` with `vcpus` and `memory` (live values equal to its config).
void PutDomain(ObservedState* state, const std::string& name, const std::string& host, int vcpus,
               const std::string& memory, const std::string& max_memory = "") {
  Json spec = {{"vcpus", vcpus},         {"max_vcpus", vcpus},
               {"memory", memory},       {"max_memory", max_memory.empty() ? memory : max_memory},
               {"disks", Json::array()}, {"interfaces", Json::array()},
               {"state", "running"},     {"autostart", false},
               {"virt_type", "kvm"}};
  Address address{Kind::kDomain, name, host};
  state->resources[address] = ObservedResource{address, spec, spec, true, {}};
}

std::string Summaries(const Plan& plan) {
  std::string out;
  for (const Diagnostic& d : plan.diagnostics) out += d.summary + "\n";
  return out;
}

const Diagnostic* WithCode(const Plan& plan, ErrorCode code) {
  for (const Diagnostic& d : plan.diagnostics) {
    if (d.code == code) return &d;
  }
  return nullptr;
}

const Change* Find(const Plan& plan, const Address& address) {
  for (const Change& c : plan.changes) {
    if (c.address == address) return &c;
  }
  return nullptr;
}

TEST(CapacityTest, EveryDomainOnTheHostCountsAndThoseNotDeclaredAreNamed) {
  Document doc = Load(R"(version: 1
hosts:
  hv-a: {connection: "qemu:///system", reserved_memory: 1GiB}
domains:
  web: {vcpus: 2, memory: 1GiB, max_memory: 2GiB}
)");
  ObservedState observed;
  PutHost(&observed, "hv-a", 4, "16GiB");
  PutDomain(&observed, "stray", "hv-a", 1, "512MiB");
  Plan plan = ComputePlan(doc, observed, {});
  ASSERT_TRUE(plan.applyable()) << Summaries(plan);
  const Json c = PlanToJson(plan)["capacity"]["hv-a"];
  EXPECT_EQ(c["cpus"], 4);
  EXPECT_EQ(c["memory"], 16ull << 30);
  EXPECT_EQ(c["reserved_memory"], 1ull << 30);
  EXPECT_EQ(c["cpu_allocation_ratio"], 4.0);
  EXPECT_EQ(c["ram_allocation_ratio"], 1.0);
  EXPECT_EQ(c["before"]["domains"], 1);
  EXPECT_EQ(c["before"]["vcpus"], 1);
  EXPECT_EQ(c["after"]["domains"], 2);
  EXPECT_EQ(c["after"]["vcpus"], 3);
  EXPECT_EQ(c["after"]["memory"], (1ull << 30) + (512ull << 20));
  EXPECT_EQ(c["after"]["max_memory"], (2ull << 30) + (512ull << 20));
  EXPECT_EQ(c["after"]["vcpu_ratio"], 0.75);
  // (1GiB reserved + 1.5GiB) / 16GiB
  EXPECT_EQ(c["after"]["ram_ratio"], 0.156);
  EXPECT_EQ(c["after"]["undeclared"], Json::array({"stray"}));
  // The text is rendered from the JSON: the same figures, and the undeclared named.
  const std::string text = RenderPlanText(PlanToJson(plan), {});
  EXPECT_NE(text.find("hv-a: 4 CPUs, 16GiB of memory (1GiB reserved)"), std::string::npos) << text;
  EXPECT_NE(text.find("vCPUs       1 → 3, 0.25 → 0.75 per CPU (limit 4.00)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("(not in the documents: stray)"), std::string::npos) << text;
}

TEST(CapacityTest, APlanOverTheVcpuRatioIsRefusedNamingTheHostTheFigureAndTheLimit) {
  Document doc = Load(R"(version: 1
hosts:
  hv-a: {connection: "qemu:///system", cpu_allocation_ratio: 1.5}
domains:
  big: {vcpus: 3, memory: 256MiB}
)");
  ObservedState observed;
  PutHost(&observed, "hv-a", 2, "8GiB");
  PutDomain(&observed, "stray", "hv-a", 1, "256MiB");
  Plan plan = ComputePlan(doc, observed, {});
  EXPECT_FALSE(plan.applyable());
  const Diagnostic* over = WithCode(plan, ErrorCode::kOverCommitted);
  ASSERT_NE(over, nullptr) << Summaries(plan);
  EXPECT_EQ(over->severity, Diagnostic::Severity::kError);
  EXPECT_EQ(over->address, "host.hv-a");
  EXPECT_NE(over->summary.find("host hv-a: the plan takes vCPUs per host CPU from 0.50 to 2.00, "
                               "over its cpu_allocation_ratio of 1.50"),
            std::string::npos)
      << over->summary;
  EXPECT_NE(over->detail.find("4 vCPUs on 2 CPUs"), std::string::npos) << over->detail;
  EXPECT_NE(over->detail.find("not declared in the documents: stray"), std::string::npos)
      << over->detail;
  EXPECT_EQ(ErrorCodeName(over->code), "over_committed");

  // Allowed for this run: the same figure, as a warning; the plan records the allow.
  PlanOptions allow;
  allow.allow_overcommit = true;
  Plan allowed = ComputePlan(doc, observed, allow);
  EXPECT_TRUE(allowed.applyable()) << Summaries(allowed);
  const Diagnostic* warned = WithCode(allowed, ErrorCode::kOverCommitted);
  ASSERT_NE(warned, nullptr);
  EXPECT_EQ(warned->severity, Diagnostic::Severity::kWarning);
  EXPECT_NE(warned->summary.find("allowed by --allow-overcommit"), std::string::npos);
  EXPECT_EQ(PlanToJson(allowed)["options"]["allow_overcommit"], true);
}

TEST(CapacityTest, MemoryCountsTheReserveAndAnyRatioAboveOneCountsOnOvercommit) {
  const std::string head = R"(version: 1
hosts:
  hv-a: {connection: "qemu:///system", reserved_memory: 1GiB)";
  const std::string domains = R"(}
domains:
  a: {vcpus: 1, memory: 2GiB}
  b: {vcpus: 1, memory: 2GiB}
)";
  ObservedState observed;
  PutHost(&observed, "hv-a", 8, "4GiB");
  // 1GiB + 4GiB on 4GiB: 1.25, over the default 1.0.
  Plan refused = ComputePlan(Load(head + domains), observed, {});
  ASSERT_NE(WithCode(refused, ErrorCode::kOverCommitted), nullptr) << Summaries(refused);
  EXPECT_NE(WithCode(refused, ErrorCode::kOverCommitted)->summary.find("ram_allocation_ratio"),
            std::string::npos);
  EXPECT_FALSE(refused.applyable());
  // A ratio of 1.35 counts on the balloon and KSM: allowed, and close to it (1.25 >= 0.9 x 1.35)
  // is a warning.
  Plan close = ComputePlan(Load(head + ", ram_allocation_ratio: 1.35" + domains), observed, {});
  EXPECT_TRUE(close.applyable()) << Summaries(close);
  const Diagnostic* warning = WithCode(close, ErrorCode::kOverCommitted);
  ASSERT_NE(warning, nullptr);
  EXPECT_EQ(warning->severity, Diagnostic::Severity::kWarning);
  EXPECT_NE(warning->summary.find("close to its ram_allocation_ratio of 1.35"), std::string::npos)
      << warning->summary;
}

TEST(CapacityTest, AHostAlreadyOverItsLimitIsWarnedAboutButAPlanThatLowersItIsNotRefused) {
  Document doc = Load(R"(version: 1
hosts:
  hv-a: {connection: "qemu:///system", cpu_allocation_ratio: 1.0}
domains:
  web: {vcpus: 2, memory: 256MiB}
)");
  ObservedState observed;
  PutHost(&observed, "hv-a", 2, "8GiB");
  PutDomain(&observed, "web", "hv-a", 4, "256MiB");
  Plan plan = ComputePlan(doc, observed, {});  // 4 → 2 vCPUs: needs a restart, not refused
  PlanOptions restart;
  restart.allow_restart = true;
  Plan lowered = ComputePlan(doc, observed, restart);
  EXPECT_EQ(WithCode(lowered, ErrorCode::kOverCommitted), nullptr) << Summaries(lowered);
  EXPECT_TRUE(lowered.applyable()) << Summaries(lowered);

  // Another domain that stays over: a warning that it stays there, not an error.
  Document other = Load(R"(version: 1
hosts:
  hv-a: {connection: "qemu:///system", cpu_allocation_ratio: 1.0}
domains:
  web: {vcpus: 4, memory: 256MiB, autostart: true}
)");
  Plan stays = ComputePlan(other, observed, {});
  const Diagnostic* d = WithCode(stays, ErrorCode::kOverCommitted);
  ASSERT_NE(d, nullptr) << Summaries(stays);
  EXPECT_EQ(d->severity, Diagnostic::Severity::kWarning);
  EXPECT_NE(d->summary.find("stays at 2.00, over its cpu_allocation_ratio of 1.00"),
            std::string::npos)
      << d->summary;
}

TEST(CapacityTest, AGuestDefinedOnTheHostSinceASavedPlanIsAChangeSincePlan) {
  Document doc = Load(R"(version: 1
hosts:
  hv-a: {connection: "qemu:///system"}
domains:
  web: {vcpus: 1, memory: 256MiB}
)");
  ObservedState observed;
  PutHost(&observed, "hv-a", 4, "8GiB");
  StatusOr<SavedPlan> saved = DecodeSavedPlan(PlanToJson(ComputePlan(doc, observed, {})).dump());
  ASSERT_TRUE(saved.ok()) << saved.status().message();
  PutDomain(&observed, "other", "hv-a", 2, "1GiB");  // not in the plan's changes
  Json again = PlanToJson(ComputePlan(saved->document, observed, ReplanOptions(*saved, {})));
  Status same = CompareWithSaved(*saved, again);
  EXPECT_EQ(same.error_code(), ErrorCode::kChangedSincePlan) << same.message();
  EXPECT_NE(same.message().find("capacity.hv-a"), std::string::npos) << same.message();
}

TEST(CapacityTest, TheDefaultLimitsAreTheSchemas) {
  const Json schema = Json::parse(DesiredStateSchema());
  const Json& host = schema["$defs"]["host"]["properties"];
  EXPECT_EQ(host["cpu_allocation_ratio"]["default"].get<double>(), kDefaultCpuAllocationRatio);
  EXPECT_EQ(host["ram_allocation_ratio"]["default"].get<double>(), kDefaultRamAllocationRatio);
  EXPECT_EQ(ParseSize(host["reserved_memory"]["default"].get<std::string>()).value(),
            kDefaultReservedMemory);
}

TEST(CapacityTest, WithoutHostsNothingIsCheckedAndThePlanHasNoCapacity) {
  Document doc;
  ASSERT_FALSE(HasErrors(ParseDocument("version: 1\ndomains:\n  web: {vcpus: 64, memory: 256MiB}\n",
                                       "one.yaml", &doc)));
  ObservedState observed;
  observed.connection = "qemu:///system";
  Plan plan = ComputePlan(doc, observed, {});
  EXPECT_TRUE(plan.applyable()) << Summaries(plan);
  EXPECT_FALSE(PlanToJson(plan).contains("capacity"));
}

TEST(HostSettingsTest, EachDifferingKsmSettingIsALiveAttributeAndOneStepSetsThem) {
  Document doc = Load(R"(version: 1
hosts:
  hv-a:
    connection: "qemu:///system"
    ksm: {enabled: true, pages_to_scan: 200, sleep_millisecs: 20}
)");
  ObservedState observed;
  PutHost(&observed, "hv-a", 2, "8GiB",
          {{"enabled", false},
           {"pages_to_scan", 100},
           {"sleep_millisecs", 20},
           {"merge_across_nodes", true}});
  Plan plan = ComputePlan(doc, observed, {});
  ASSERT_TRUE(plan.applyable()) << Summaries(plan);
  const Change* host = Find(plan, HostAddress("hv-a"));
  ASSERT_NE(host, nullptr) << PlanToJson(plan).dump(2);
  EXPECT_EQ(host->action, Action::kUpdate);
  EXPECT_EQ(host->disruption(), Disruption::kLive);
  ASSERT_EQ(host->attributes.size(), 2u);  // sleep_millisecs is as declared
  EXPECT_EQ(host->attributes[0].path, "ksm.enabled");
  EXPECT_EQ(host->attributes[0].before, false);
  EXPECT_EQ(host->attributes[0].after, true);
  EXPECT_EQ(host->attributes[1].path, "ksm.pages_to_scan");
  ASSERT_EQ(host->steps.size(), 1u);
  EXPECT_EQ(host->steps[0].op, Step::Op::kSetKsm);
  EXPECT_EQ(host->steps[0].args["settings"], Json({{"enabled", true}, {"pages_to_scan", 200}}));
  // Host settings come first: KSM is settled before the guests it merges start.
  EXPECT_EQ(&plan.changes.front(), host);
  EXPECT_EQ(PlanToJson(plan)["changes"][0]["address"], "host.hv-a");

  // As declared: nothing to do.
  ObservedState same = observed;
  same.resources[HostAddress("hv-a")].spec["ksm"] = {{"enabled", true},
                                                     {"pages_to_scan", 200},
                                                     {"sleep_millisecs", 20},
                                                     {"merge_across_nodes", true}};
  EXPECT_TRUE(ComputePlan(doc, same, {}).changes.empty());
}

TEST(HostSettingsTest, TheRunSwitchOfAnotherMachineIsRefusedNamingTheField) {
  Document doc = Load(R"(version: 1
hosts:
  hv-b:
    connection: "qemu+ssh://hv-b.example/system"
    ksm: {enabled: true, pages_to_scan: 300}
)");
  ObservedState observed;
  PutHost(&observed, "hv-b", 2, "8GiB", {{"pages_to_scan", 100}},
          "qemu+ssh://hv-b.example/system is another machine");
  Plan plan = ComputePlan(doc, observed, {});
  EXPECT_FALSE(plan.applyable());
  const Diagnostic* refused = WithCode(plan, ErrorCode::kUnsupported);
  ASSERT_NE(refused, nullptr) << Summaries(plan);
  EXPECT_NE(refused->summary.find("hosts.hv-b.ksm.enabled: cannot be converged from here"),
            std::string::npos)
      << refused->summary;

  // A driver without node memory parameters (no ksm observed at all).
  ObservedState bare;
  PutHost(&bare, "hv-b", 2, "8GiB");
  Plan none = ComputePlan(doc, bare, {});
  ASSERT_NE(WithCode(none, ErrorCode::kUnsupported), nullptr) << Summaries(none);
  EXPECT_NE(WithCode(none, ErrorCode::kUnsupported)->summary.find("no node memory parameters"),
            std::string::npos);
}

TEST(HostSettingsTest, KsmSettingsOutOfRangeAreRefusedByTheParser) {
  Document doc;
  Diagnostics diags = ParseDocument(R"(version: 1
hosts:
  hv-a:
    connection: "qemu:///system"
    ksm: {pages_to_scan: 0}
    cpu_allocation_ratio: -1
)",
                                    "bad.yaml", &doc);
  std::string all;
  for (const Diagnostic& d : diags) all += d.summary + "\n";
  EXPECT_NE(all.find("hosts.hv-a.ksm.pages_to_scan"), std::string::npos) << all;
  EXPECT_NE(all.find("hosts.hv-a.cpu_allocation_ratio"), std::string::npos) << all;
}

TEST(HostSettingsTest, TheHostAddressParsesAndPrintsWithoutAnAt) {
  EXPECT_EQ(HostAddress("hv-a").ToString(), "host.hv-a");
  EXPECT_EQ(Address::Parse("host.hv-a"), HostAddress("hv-a"));
  EXPECT_FALSE(Address::Parse("host.hv-a@hv-b").has_value());
}

TEST(PlacementByCapacityTest, ADomainListingHostsGoesWhereMostHeadroomIsLeftAndThePlanSaysWhy) {
  Document doc = Load(R"(version: 1
hosts:
  hv-a: {connection: "qemu+tcp://127.0.0.2/system"}
  hv-b: {connection: "qemu+tcp://127.0.0.3/system"}
domains:
  web: {hosts: [hv-a, hv-b], vcpus: 2, memory: 1GiB}
)");
  ObservedState observed;
  PutHost(&observed, "hv-a", 4, "8GiB");
  PutHost(&observed, "hv-b", 4, "8GiB");
  PutDomain(&observed, "busy", "hv-a", 4, "4GiB");
  Plan plan = ComputePlan(doc, observed, {});
  ASSERT_TRUE(plan.applyable()) << Summaries(plan);
  const Change* web = Find(plan, Address{Kind::kDomain, "web", "hv-b"});
  ASSERT_NE(web, nullptr) << PlanToJson(plan).dump(2);
  ASSERT_FALSE(web->attributes.empty());
  EXPECT_EQ(web->attributes[0].path, "host");
  EXPECT_NE(web->attributes[0].reason.find("hv-b keeps its capacity limits with the most "
                                           "headroom left"),
            std::string::npos)
      << web->attributes[0].reason;
  const std::string text = RenderPlanText(PlanToJson(plan), {});
  EXPECT_NE(text.find("host = hv-b  (chosen: hv-b keeps its capacity limits"), std::string::npos)
      << text;

  // Where it already is (and listed): it stays, whatever the headroom elsewhere.
  ObservedState there = observed;
  PutDomain(&there, "web", "hv-a", 2, "1GiB");
  Plan stays = ComputePlan(doc, there, {});
  EXPECT_EQ(Find(stays, Address{Kind::kDomain, "web", "hv-b"}), nullptr)
      << PlanToJson(stays).dump(2);
}

TEST(PlacementByCapacityTest, NoListedHostThatKeepsItsLimitsIsAnErrorNamingEach) {
  Document doc = Load(R"(version: 1
hosts:
  hv-a: {connection: "qemu+tcp://127.0.0.2/system", cpu_allocation_ratio: 1.0}
  hv-b: {connection: "qemu+tcp://127.0.0.3/system", cpu_allocation_ratio: 1.0}
domains:
  web: {hosts: [hv-a, hv-b], vcpus: 4, memory: 1GiB}
)");
  ObservedState observed;
  PutHost(&observed, "hv-a", 2, "8GiB");
  PutHost(&observed, "hv-b", 2, "8GiB");
  Plan plan = ComputePlan(doc, observed, {});
  EXPECT_FALSE(plan.applyable());
  EXPECT_NE(Summaries(plan).find("no host can take it (hv-a: over its limits with it"),
            std::string::npos)
      << Summaries(plan);
  EXPECT_NE(Summaries(plan).find("hv-b: over its limits"), std::string::npos);
}

}  // namespace
}  // namespace vc
