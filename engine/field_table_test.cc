#include "engine/field_table.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/change_rules.h"
#include "engine/diff.h"
#include "engine/schemas.h"

namespace vc {
namespace {

nlohmann::ordered_json Defs() {
  return nlohmann::ordered_json::parse(DesiredStateSchema())["$defs"];
}

TEST(FieldTableTest, EachKindHasExactlyTheSchemasFieldsInItsOrder) {
  const nlohmann::ordered_json defs = Defs();
  for (Kind kind : kAllKinds) {
    std::vector<std::string> want;
    for (const auto& [name, node] : defs[std::string(KindName(kind))]["properties"].items()) {
      if (name != "ensure") want.push_back(name);
    }
    std::vector<std::string> have;
    for (const FieldSpec& f : FieldsOf(kind)) have.push_back(f.name);
    EXPECT_EQ(have, want) << KindName(kind);
  }
}

TEST(FieldTableTest, EnumsAndRangesAreTheSchemas) {
  const nlohmann::ordered_json defs = Defs();
  const FieldSpec* state = FindField(Kind::kDomain, "state");
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(state->type, FieldType::kEnum);
  EXPECT_EQ(nlohmann::ordered_json(state->values), defs["domain"]["properties"]["state"]["enum"]);
  const FieldSpec* vcpus = FindField(Kind::kDomain, "vcpus");
  ASSERT_NE(vcpus, nullptr);
  EXPECT_EQ(vcpus->type, FieldType::kInt);
  EXPECT_EQ(vcpus->max, defs["domain"]["properties"]["vcpus"]["maximum"].get<int>());
  const FieldSpec* features = FindField(Kind::kRbdImage, "features");
  ASSERT_NE(features, nullptr);
  EXPECT_EQ(features->type, FieldType::kEnumList);
  EXPECT_EQ(nlohmann::ordered_json(features->values),
            defs["rbd_image"]["properties"]["features"]["items"]["enum"]);
  EXPECT_EQ(FindField(Kind::kDomain, "no_such_field"), nullptr);
}

TEST(FieldTableTest, ChangeClassesComeFromTheSchema) {
  EXPECT_TRUE(HasChangeClass(Kind::kDomain, "vcpus", ChangeClass::kRestart));
  EXPECT_TRUE(FindField(Kind::kDomain, "vcpus")->compared_running);
  EXPECT_TRUE(HasChangeClass(Kind::kDomain, "cpu", ChangeClass::kRestart));
  EXPECT_FALSE(FindField(Kind::kDomain, "cpu")->compared_running);
  EXPECT_TRUE(HasChangeClass(Kind::kDomain, "restart", ChangeClass::kPolicy));
  EXPECT_TRUE(HasChangeClass(Kind::kVolume, "capacity", ChangeClass::kResize));
  EXPECT_FALSE(FindField(Kind::kPool, "autostart")->reason.empty());
}

// Every field the schema marks replace makes the planner replace the resource, destructively.
TEST(FieldTableTest, EveryReplaceFieldReplaces) {
  int checked = 0;
  for (Kind kind : kAllKinds) {
    for (const FieldSpec& f : FieldsOf(kind)) {
      DesiredResource desired{{kind, "p/x"}, false, Json::object(), "test"};
      ObservedResource observed{{kind, "p/x"}, Json::object(), nullptr, false, {}};
      AttributeChange a{f.name, "old", "new", Disruption::kNone, ""};
      bool replace = false;
      Classify(desired, observed, &a, &replace);
      EXPECT_EQ(replace, f.change == ChangeClass::kReplace) << KindName(kind) << "." << f.name;
      if (replace) {
        EXPECT_EQ(a.disruption, Disruption::kDestructive) << f.name;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 5);
}

TEST(FieldTableTest, PolicyAndPlacementFieldsAreNeverADifference) {
  for (Kind kind : kAllKinds) {
    for (const FieldSpec& f : FieldsOf(kind)) {
      std::vector<AttributeChange> diff =
          DiffResource(kind, Json{{f.name, true}}, Json{{f.name, false}, {"clone_from", "p/a@s"}});
      EXPECT_EQ(diff.empty(),
                f.change == ChangeClass::kPolicy || f.change == ChangeClass::kPlacement)
          << KindName(kind) << "." << f.name;
    }
  }
}

}  // namespace
}  // namespace vc
