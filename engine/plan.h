// The plan: what apply will change, attribute by attribute, and how disruptive each change is.
// Its JSON form (docs/plan-format.md, schemas/plan.schema.json) is the only plan there is: the
// text for people is rendered from it, and `apply --plan` reads it back.
#pragma once

#include <string>
#include <vector>

#include "engine/diagnostic.h"
#include "engine/resource.h"
#include "engine/status.h"

namespace vc {

inline constexpr int kPlanFormatVersion = 1;

enum class Action { kCreate, kUpdate, kReplace, kDelete };

/// Ordered: a change's disruption is the worst (largest) of its attributes'.
enum class Disruption { kNone, kLive, kRestart, kDestructive };

std::string_view ActionName(Action action);
std::string_view DisruptionName(Disruption disruption);

struct AttributeChange {
  std::string path;  // "vcpus", "disks", "state"
  Json before;       // null when absent
  Json after;
  Disruption disruption = Disruption::kNone;
  std::string reason;  // for people; apply never reads it
};

struct Change {
  Address address;
  Action action = Action::kUpdate;
  std::vector<AttributeChange> attributes;
  Json before;   // observed values of the declared fields; null for a create
  Json desired;  // the whole declared resource, canonical; null for a delete

  Disruption disruption() const;
};

/// A value already in a running domain's persistent config that takes effect at its next boot.
struct Pending {
  Address address;
  std::string path;
  Json live;
  Json config;
};

struct PlanOptions {
  bool allow_destroy = false;
  bool allow_restart = false;
  bool prune = false;
};

struct Plan {
  std::string connection;
  Json ceph;  // the ceph: section the plan was made with ({"conf", "user"}), or null
  std::string fingerprint;
  PlanOptions options;
  std::vector<Change> changes;  // in apply order
  std::vector<Pending> pending;
  Diagnostics diagnostics;

  /// False when a diagnostic is an error: apply refuses such a plan and changes nothing.
  bool applyable() const { return !HasErrors(diagnostics); }
  bool empty() const { return changes.empty(); }
};

Json PlanToJson(const Plan& plan);

/// Reads a plan written by PlanToJson. InvalidArgument naming the field when it is not one.
StatusOr<Plan> PlanFromJson(const Json& json);

}  // namespace vc
