#include "engine/plan.h"

#include <gtest/gtest.h>

#include "engine/document_parser.h"
#include "engine/plan_text.h"
#include "engine/planner.h"
#include "engine/saved_plan.h"

namespace vc {
namespace {

ObservedState SampleState() {
  ObservedState state;
  state.connection = "test:///default";
  state.resources[Address{Kind::kDomain, "web1"}] =
      ObservedResource{{Kind::kDomain, "web1"},
                       {{"vcpus", 1}, {"memory", "512MiB"}, {"state", "running"}},
                       {{"vcpus", 1}, {"memory", "512MiB"}, {"state", "running"}},
                       true,
                       {}};
  return state;
}

Plan SamplePlan() {
  Document doc;
  EXPECT_FALSE(HasErrors(ParseDocument(R"(version: 1
pools: {p: {type: dir, path: /srv/p}}
domains:
  web1: {vcpus: 2, memory: 512MiB}
  web2: {vcpus: 1, memory: 256MiB, state: stopped}
)",
                                       "t.yaml", &doc)));
  return ComputePlan(doc, SampleState(), {});
}

TEST(PlanTest, SavedPlanReadsBackAndPlansAgainIdentically) {
  Plan plan = SamplePlan();
  Json json = PlanToJson(plan);
  StatusOr<SavedPlan> saved = DecodeSavedPlan(json.dump());
  ASSERT_TRUE(saved.ok()) << saved.status().message();
  EXPECT_EQ(saved->connection, "test:///default");
  EXPECT_EQ(saved->document.resources.size(), 3u);
  Plan again = ComputePlan(saved->document, SampleState(), ReplanOptions(*saved, PlanOptions{}));
  Status same = CompareWithSaved(*saved, PlanToJson(again));
  EXPECT_TRUE(same.ok()) << same.message();
}

TEST(PlanTest, EditedSavedPlanIsRefusedNamingTheField) {
  Json json = PlanToJson(SamplePlan());
  json["changes"][1]["action"] = "delete";
  StatusOr<SavedPlan> edited = DecodeSavedPlan(json.dump());
  ASSERT_FALSE(edited.ok()) << "the digest shows the edit";
  EXPECT_EQ(edited.status().error_code(), ErrorCode::kPlanMismatch);
  EXPECT_NE(edited.status().message().find("digest"), std::string::npos);
  // An editor who also rewrites the digest is caught by planning again.
  json["digest"] = PlanDigest(json);
  StatusOr<SavedPlan> saved = DecodeSavedPlan(json.dump());
  ASSERT_TRUE(saved.ok()) << saved.status().message();
  Status same = CompareWithSaved(*saved, PlanToJson(SamplePlan()));
  ASSERT_FALSE(same.ok());
  EXPECT_EQ(same.error_code(), ErrorCode::kPlanMismatch);
  EXPECT_NE(same.message().find("changes[1].action"), std::string::npos) << same.message();
}

TEST(PlanTest, SavedPlanNeedsTheAllowFlagsItWasMadeWith) {
  Json json = PlanToJson(SamplePlan());
  json["options"]["allow_destroy"] = true;
  json["digest"] = PlanDigest(json);
  StatusOr<SavedPlan> saved = DecodeSavedPlan(json.dump());
  ASSERT_TRUE(saved.ok());
  Status same = CompareWithSaved(*saved, PlanToJson(SamplePlan()));
  EXPECT_EQ(same.error_code(), ErrorCode::kNeedsAllowDestroy) << same.message();

  // --allow-overcommit is this run's permission too, both ways.
  json = PlanToJson(SamplePlan());
  json["options"]["allow_overcommit"] = true;
  json["digest"] = PlanDigest(json);
  saved = DecodeSavedPlan(json.dump());
  ASSERT_TRUE(saved.ok());
  same = CompareWithSaved(*saved, PlanToJson(SamplePlan()));
  EXPECT_EQ(same.error_code(), ErrorCode::kOverCommitted) << same.message();
  EXPECT_NE(same.message().find("apply it with --allow-overcommit too"), std::string::npos);
  PlanOptions allowed;
  allowed.allow_overcommit = true;
  EXPECT_TRUE(ReplanOptions(*saved, allowed).allow_overcommit);
  EXPECT_FALSE(ReplanOptions(*saved, PlanOptions{}).allow_overcommit);
  json = PlanToJson(SamplePlan());
  saved = DecodeSavedPlan(json.dump());
  ASSERT_TRUE(saved.ok());
  Json with_allow = PlanToJson(SamplePlan());
  with_allow["options"]["allow_overcommit"] = true;
  EXPECT_EQ(CompareWithSaved(*saved, with_allow).error_code(), ErrorCode::kPlanMismatch);
}

TEST(PlanTest, SavedPlanWithAHostileDocumentIsRefused) {
  Json json = PlanToJson(SamplePlan());
  json["document"]["pools"]["p"]["path"] = "/srv/../../etc";
  json["digest"] = PlanDigest(json);
  StatusOr<SavedPlan> saved = DecodeSavedPlan(json.dump());
  ASSERT_FALSE(saved.ok());
  EXPECT_NE(saved.status().message().find("pools.p.path"), std::string::npos)
      << saved.status().message();
  json = PlanToJson(SamplePlan());
  json["options"]["shutdown_timeout_seconds"] = "60";
  json["digest"] = PlanDigest(json);
  EXPECT_FALSE(DecodeSavedPlan(json.dump()).ok());
  EXPECT_FALSE(DecodeSavedPlan("{\"format_version\": 2, \"format_version\": 2}").ok())
      << "duplicate key";
  EXPECT_FALSE(DecodeSavedPlan(json.dump() + " {}").ok()) << "trailing content";
}

TEST(PlanTest, JsonCarriesVersionSummaryAndDisruption) {
  Json json = PlanToJson(SamplePlan());
  EXPECT_EQ(json["format_version"], kPlanFormatVersion);
  EXPECT_EQ(json["summary"]["create"], 2);
  EXPECT_EQ(json["summary"]["update"], 1);
  EXPECT_EQ(json["summary"]["restart"], 1);
  bool found = false;
  for (const Json& c : json["changes"]) {
    if (c["address"] == "domain.web1") {
      found = true;
      EXPECT_EQ(c["disruption"], "restart");
      EXPECT_EQ(c["attributes"][0]["path"], "vcpus");
    }
  }
  EXPECT_TRUE(found);
}

TEST(PlanTest, RejectsPlansOfAnotherFormatVersion) {
  Json json = PlanToJson(SamplePlan());
  json["format_version"] = 99;
  StatusOr<SavedPlan> bad = DecodeSavedPlan(json.dump());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("format_version"), std::string::npos);
}

TEST(PlanTextTest, RendersFromJsonWithSummaryLine) {
  std::string text = RenderPlanText(PlanToJson(SamplePlan()), TextStyle{false});
  EXPECT_NE(text.find("+ pool.p (create"), std::string::npos) << text;
  EXPECT_NE(text.find("~ domain.web1 (update, needs restart)"), std::string::npos) << text;
  EXPECT_NE(text.find("vcpus 1 → 2"), std::string::npos) << text;
  EXPECT_NE(
      text.find(
          "Plan: 2 to create, 1 to update (0 live, 1 need restart), 0 to replace, 0 to destroy."),
      std::string::npos)
      << text;
  EXPECT_EQ(text.find("\033["), std::string::npos);
  EXPECT_NE(RenderPlanText(PlanToJson(SamplePlan()), TextStyle{true}).find("\033["),
            std::string::npos);
}

}  // namespace
}  // namespace vc
