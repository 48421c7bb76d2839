#include "engine/cloud_init.h"

#include <gtest/gtest.h>

#include <map>

#include "engine/document_parser.h"
#include "engine/plan_text.h"
#include "engine/planner.h"

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
  EXPECT_EQ(RedactText("users: [{name: ops, passwd: x1}]"),
            "users: [{name: ops, passwd: (redacted)}]");
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

const char* kDoc = R"(version: 1
pools:
  p: {type: dir, path: /srv/p}
domains:
  web1:
    vcpus: 1
    memory: 256MiB
    state: stopped
    cloud_init:
      pool: p
      user_data:
        users: [{name: ops, passwd: "$6$topsecret"}]
        packages: [htop]
      meta_data: {instance_id: i-1, local_hostname: web1}
)";

Document ParseDoc(const std::string& yaml) {
  Document doc;
  Diagnostics diags = ParseDocument(yaml, "test.yaml", &doc);
  EXPECT_FALSE(HasErrors(diags)) << (diags.empty() ? "" : diags[0].summary);
  return doc;
}

// The host: pool p, and domain web1 (`state`) whose seed volume holds `seed`.
ObservedState StateWith(const Json& seed, const std::string& state) {
  ObservedState s;
  s.connection = "test:///default";
  Json spec = {{"vcpus", 1},
               {"max_vcpus", 1},
               {"memory", "256MiB"},
               {"max_memory", "256MiB"},
               {"state", state},
               {"autostart", false},
               {"disks", Json::array()},
               {"interfaces", Json::array()},
               {"cloud_init", seed}};
  s.resources[Address{Kind::kDomain, "web1"}] =
      ObservedResource{{Kind::kDomain, "web1"}, spec, state == "running" ? spec : Json(), true, {}};
  s.resources[Address{Kind::kPool, "p"}] = ObservedResource{
      {Kind::kPool, "p"}, {{"type", "dir"}, {"path", "/srv/p"}}, nullptr, true, {}};
  return s;
}

// The first error of a document the parser must refuse ("" and a test failure when it accepts).
std::string FirstError(const std::string& yaml) {
  Document doc;
  Diagnostics diags = ParseDocument(yaml, "t.yaml", &doc);
  if (!HasErrors(diags)) {
    ADD_FAILURE() << "accepted:\n" << yaml;
    return "";
  }
  return diags[0].summary;
}

std::vector<Step::Op> Ops(const Change& change) {
  std::vector<Step::Op> ops;
  for (const Step& step : change.steps) ops.push_back(step.op);
  return ops;
}

TEST(CloudInitPlanTest, TheCanonicalUserDataIsTheCloudConfigText) {
  Document doc = ParseDoc(kDoc);
  const Json& seed = doc.resources.at(Address{Kind::kDomain, "web1"}).spec["cloud_init"];
  const std::string text = seed["user_data"];
  EXPECT_EQ(text.rfind("#cloud-config\n", 0), 0u) << text;
  EXPECT_NE(text.find("packages:"), std::string::npos) << text;
  EXPECT_EQ(seed["meta_data"]["local_hostname"], "web1");
  EXPECT_EQ(seed["pool"], "p");
}

TEST(CloudInitPlanTest, RefusesARedactedCopy) {
  EXPECT_TRUE(LooksRedacted("users:\n  - passwd: (redacted)\n"));
  EXPECT_TRUE(LooksRedacted("keys:\n  (redacted)\n"));
  EXPECT_FALSE(LooksRedacted("#cloud-config\nhostname: web1\n"));
  const std::string error = FirstError(R"(version: 1
domains:
  web1:
    vcpus: 1
    memory: 256MiB
    cloud_init: {pool: p, user_data: {password: (redacted)}, meta_data: {instance_id: i}}
)");
  EXPECT_NE(error.find("a copy from a plan or observe"), std::string::npos) << error;
}

TEST(CloudInitPlanTest, RefusesAnIncompleteSeed) {
  const std::string error = FirstError(R"(version: 1
domains:
  web1: {vcpus: 1, memory: 256MiB, cloud_init: {pool: p, user_data: "", meta_data: {hostname: x}}}
)");
  EXPECT_NE(error.find("meta_data.hostname: unknown field"), std::string::npos) << error;
}

TEST(CloudInitPlanTest, ANewDomainWritesItsSeedFirstAndNoSecretLeavesThePlan) {
  Plan plan = ComputePlan(ParseDoc(kDoc), ObservedState{}, {});
  ASSERT_EQ(plan.changes.size(), 2u);
  EXPECT_EQ(plan.changes[0].address.ToString(), "pool.p");  // the seed's pool comes first
  const std::vector<Step>& steps = plan.changes[1].steps;
  ASSERT_GE(steps.size(), 2u);
  EXPECT_EQ(steps[0].op, Step::Op::kWriteSeed);
  EXPECT_EQ(steps[0].args["volume"], "web1-cidata.iso");
  EXPECT_EQ(steps[0].args["seed"], SeedHash(SeedFiles(steps[0].args["cloud_init"])));
  EXPECT_EQ(steps[1].op, Step::Op::kCreate);
  const Json json = PlanToJson(plan);
  EXPECT_EQ(json.dump().find("topsecret"), std::string::npos) << json.dump(2);
  EXPECT_EQ(RenderPlanText(json, TextStyle{}).find("topsecret"), std::string::npos);
}

TEST(CloudInitPlanTest, AChangedSeedIsARestartPerSubFieldAndTheSameSeedNoChange) {
  Document doc = ParseDoc(kDoc);
  Json observed_seed = doc.resources.at(Address{Kind::kDomain, "web1"}).spec["cloud_init"];
  auto state_with = StateWith;
  EXPECT_TRUE(ComputePlan(doc, state_with(observed_seed, "stopped"), {}).empty());

  Json old_seed = observed_seed;
  old_seed["user_data"] = "#cloud-config\nusers:\n  - name: ops\n    passwd: $6$oldsecret\n";
  old_seed["meta_data"]["local_hostname"] = "old";
  Document running = ParseDoc(
      std::string(kDoc).replace(std::string(kDoc).find("state: stopped"), 14, "state: running"));
  Plan plan = ComputePlan(running, state_with(old_seed, "running"), {});
  ASSERT_EQ(plan.changes.size(), 1u) << PlanToJson(plan).dump(2);
  const Change& c = plan.changes[0];
  ASSERT_EQ(c.attributes.size(), 2u) << PlanToJson(plan).dump(2);
  EXPECT_EQ(c.attributes[0].path, "cloud_init.user_data");
  EXPECT_EQ(c.attributes[0].disruption, Disruption::kRestart);
  EXPECT_EQ(c.attributes[1].path, "cloud_init.meta_data");
  EXPECT_EQ(c.attributes[1].disruption, Disruption::kRestart);
  ASSERT_EQ(c.steps.size(), 2u);
  EXPECT_EQ(c.steps[0].op, Step::Op::kWriteSeed);
  EXPECT_EQ(c.steps[0].args["mark_pending"], true);  // the guest runs on the seed it booted with
  EXPECT_EQ(c.steps[1].op, Step::Op::kWriteConfig);
  const std::string text = RenderPlanText(PlanToJson(plan), TextStyle{});
  EXPECT_NE(text.find("cloud_init.user_data"), std::string::npos) << text;
  EXPECT_NE(text.find("+packages:"), std::string::npos) << text;
  EXPECT_NE(text.find("(redacted)"), std::string::npos) << text;
  for (const char* secret : {"topsecret", "oldsecret"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << text;
    EXPECT_EQ(PlanToJson(plan).dump().find(secret), std::string::npos);
  }
  // With the restart allowed, the guest is restarted after the seed is written.
  PlanOptions allow;
  allow.allow_restart = true;
  Plan restart = ComputePlan(running, state_with(old_seed, "running"), allow);
  ASSERT_EQ(restart.changes.size(), 1u);
  ASSERT_EQ(restart.changes[0].steps.size(), 4u);
  EXPECT_EQ(restart.changes[0].steps[2].op, Step::Op::kShutdown);
  EXPECT_EQ(restart.changes[0].steps[3].op, Step::Op::kStart);

  // The seed was written without the restart: the guest still runs on the one it booted with.
  // Pending (no change) until its next boot; restarted when this run may.
  ObservedState written = state_with(observed_seed, "running");
  written.resources[Address{Kind::kDomain, "web1"}].facts = {{"seed_pending", true}};
  Plan waiting = ComputePlan(running, written, {});
  EXPECT_TRUE(waiting.changes.empty());
  ASSERT_EQ(waiting.pending.size(), 1u);
  EXPECT_EQ(waiting.pending[0].path, "cloud_init");
  Plan restarted = ComputePlan(running, written, allow);
  ASSERT_EQ(restarted.changes.size(), 1u);
  std::vector<Step::Op> ops;
  for (const Step& step : restarted.changes[0].steps) ops.push_back(step.op);
  EXPECT_EQ(ops, (std::vector<Step::Op>{Step::Op::kWriteSeed, Step::Op::kWriteConfig,
                                        Step::Op::kShutdown, Step::Op::kStart}));
}

// on_change: next_boot. The running guest keeps its instance id: the seed is rewritten for its
// next boot, classed live, not marked pending, never a restart (even when one is allowed). A new
// instance id is still a restart. The policy itself is never a difference.
TEST(CloudInitPlanTest, NextBootRewritesTheSeedWithoutARestartWhileTheInstanceIdStays) {
  std::string yaml(kDoc);
  yaml.replace(yaml.find("state: stopped"), 14, "state: running");
  yaml.replace(yaml.find("    cloud_init:\n"), 16, "    cloud_init:\n      on_change: next_boot\n");
  Document doc = ParseDoc(yaml);
  const Json declared = doc.resources.at(Address{Kind::kDomain, "web1"}).spec["cloud_init"];
  ASSERT_EQ(declared.value("on_change", ""), "next_boot") << declared.dump();
  Json on_host = declared;
  on_host.erase("on_change");  // what observe reads back from the seed volume
  EXPECT_TRUE(ComputePlan(doc, StateWith(on_host, "running"), {}).empty())
      << PlanToJson(ComputePlan(doc, StateWith(on_host, "running"), {})).dump(2);

  PlanOptions allow;
  allow.allow_restart = true;
  Json old_seed = on_host;
  old_seed["meta_data"]["local_hostname"] = "old";
  for (const PlanOptions& options : {PlanOptions{}, allow}) {
    Plan plan = ComputePlan(doc, StateWith(old_seed, "running"), options);
    ASSERT_EQ(plan.changes.size(), 1u) << PlanToJson(plan).dump(2);
    const Change& c = plan.changes[0];
    ASSERT_EQ(c.attributes.size(), 1u) << PlanToJson(plan).dump(2);
    EXPECT_EQ(c.attributes[0].path, "cloud_init.meta_data");
    EXPECT_EQ(c.attributes[0].disruption, Disruption::kLive);
    EXPECT_NE(c.attributes[0].reason.find("next boot (on_change: next_boot)"), std::string::npos)
        << c.attributes[0].reason;
    EXPECT_EQ(Ops(c), (std::vector<Step::Op>{Step::Op::kWriteSeed, Step::Op::kWriteConfig}));
    EXPECT_EQ(c.steps[0].args["mark_pending"], false);
    EXPECT_TRUE(plan.pending.empty());
  }

  Json other_instance = old_seed;
  other_instance["meta_data"]["instance_id"] = "i-0";
  Plan plan = ComputePlan(doc, StateWith(other_instance, "running"), allow);
  ASSERT_EQ(plan.changes.size(), 1u);
  ASSERT_EQ(plan.changes[0].attributes.size(), 1u);
  EXPECT_EQ(plan.changes[0].attributes[0].disruption, Disruption::kRestart);
  EXPECT_NE(plan.changes[0].attributes[0].reason.find("next_boot does not apply"),
            std::string::npos)
      << plan.changes[0].attributes[0].reason;
  EXPECT_EQ(Ops(plan.changes[0]),
            (std::vector<Step::Op>{Step::Op::kWriteSeed, Step::Op::kWriteConfig,
                                   Step::Op::kShutdown, Step::Op::kStart}));
  EXPECT_EQ(plan.changes[0].steps[0].args["mark_pending"], true);

  // next_boot covers the seed's content only: moving the CD-ROM to another bus is hardware.
  std::string on_ide = yaml;
  on_ide.replace(on_ide.find("      on_change: next_boot\n"), 26,
                 "      on_change: next_boot\n      bus: ide\n");
  Json on_scsi = old_seed;
  on_scsi["bus"] = "scsi";
  Plan moved = ComputePlan(ParseDoc(on_ide), StateWith(on_scsi, "running"), {});
  ASSERT_EQ(moved.changes.size(), 1u);
  std::map<std::string, Disruption> classes;
  for (const AttributeChange& a : moved.changes[0].attributes) classes[a.path] = a.disruption;
  EXPECT_EQ(classes,
            (std::map<std::string, Disruption>{{"cloud_init.bus", Disruption::kRestart},
                                               {"cloud_init.meta_data", Disruption::kLive}}));
  EXPECT_EQ(moved.changes[0].steps[0].args["mark_pending"], true);
}

TEST(CloudInitPlanTest, OnChangeIsRestartOrNextBoot) {
  const std::string error = FirstError(R"(version: 1
domains:
  web1:
    vcpus: 1
    memory: 256MiB
    cloud_init: {pool: p, user_data: "", meta_data: {instance_id: i}, on_change: later}
)");
  EXPECT_NE(error.find("on_change: expected one of restart, next_boot"), std::string::npos)
      << error;
}

}  // namespace
}  // namespace vc
