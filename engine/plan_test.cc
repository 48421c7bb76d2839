#include "engine/plan.h"

#include <gtest/gtest.h>

#include "engine/document_parser.h"
#include "engine/plan_text.h"
#include "engine/planner.h"

namespace vc {
namespace {

Plan SamplePlan() {
  Document doc;
  EXPECT_FALSE(HasErrors(ParseDocument(R"(version: 1
pools: {p: {type: dir, path: /srv/p}}
domains:
  web1: {vcpus: 2, memory: 512MiB}
  web2: {vcpus: 1, memory: 256MiB, state: stopped}
)",
                                       "t.yaml", &doc)));
  ObservedState state;
  state.connection = "test:///default";
  state.resources[Address{Kind::kDomain, "web1"}] = ObservedResource{
      {Kind::kDomain, "web1"},
      {{"vcpus", 1}, {"memory", "512MiB"}, {"state", "running"}},
      {{"vcpus", 1}, {"memory", "512MiB"}, {"state", "running"}},
      true,
      {}};
  return ComputePlan(doc, state, {});
}

TEST(PlanTest, JsonRoundTripPreservesEveryChange) {
  Plan plan = SamplePlan();
  Json json = PlanToJson(plan);
  StatusOr<Plan> back = PlanFromJson(Json::parse(json.dump()));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(PlanToJson(*back), json);
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
  EXPECT_FALSE(PlanFromJson(json).ok());
  json = PlanToJson(SamplePlan());
  json["changes"][0]["action"] = "explode";
  StatusOr<Plan> bad = PlanFromJson(json);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("changes[0]"), std::string::npos);
}

TEST(PlanTextTest, RendersFromJsonWithSummaryLine) {
  std::string text = RenderPlanText(PlanToJson(SamplePlan()), TextStyle{false});
  EXPECT_NE(text.find("+ pool.p (create"), std::string::npos) << text;
  EXPECT_NE(text.find("~ domain.web1 (update, needs restart)"), std::string::npos) << text;
  EXPECT_NE(text.find("vcpus 1 → 2"), std::string::npos) << text;
  EXPECT_NE(text.find("Plan: 2 to create, 1 to update (0 live, 1 need restart), 0 to replace, 0 to destroy."),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("\033["), std::string::npos);
  EXPECT_NE(RenderPlanText(PlanToJson(SamplePlan()), TextStyle{true}).find("\033["), std::string::npos);
}

}  // namespace
}  // namespace vc
