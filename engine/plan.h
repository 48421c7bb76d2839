// The plan: what apply will change, attribute by attribute, how disruptive each change is, and
// the exact steps apply runs for it. Its JSON form (docs/plan-format.md,
// schemas/plan.schema.json) is the only plan there is: the text for people is rendered from it,
// and `apply --plan` re-derives it from the document it records and refuses unless the result
// is identical.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/diagnostic.h"
#include "engine/resource.h"
#include "engine/status.h"
#include "engine/step.h"

namespace vc {

inline constexpr int kPlanFormatVersion = 2;

/// kMigrate: a domain moves to another host of the fleet (live when it runs), and may change too.
enum class Action { kCreate, kUpdate, kReplace, kDelete, kMigrate };

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
  Json before;                 // observed values of the declared fields; null for a create
  Json desired;                // the whole declared resource, canonical; null for a delete
  std::vector<Step> steps;     // what apply runs, in order
  std::string from_host = "";  // kMigrate: the host it is on now (`address` names where it goes)

  Disruption disruption() const;
};

/// A value already in a running domain's persistent config that takes effect at its next boot.
struct Pending {
  Address address;
  std::string path;
  Json live;
  Json config;
  std::string reason = "";  // why it waits when the guest, not a restart rule, holds it back
};

struct PlanOptions {
  bool allow_destroy = false;
  bool allow_restart = false;
  bool prune = false;
  int shutdown_timeout_seconds = 60;  // how long a guest gets to shut down before it is forced off
  bool skip_unreachable = false;      // a fleet: plan the hosts that answer, name the others
  bool allow_overcommit = false;      // a fleet: may take a host over its capacity limits
};

struct Plan {
  std::string connection;  // one host; "" for a fleet
  // A fleet: every host of the document, name → URI, and those skipped as unreachable, with why.
  std::map<std::string, std::string> hosts;
  std::map<std::string, std::string> skipped_hosts;
  // A fleet: each host the plan touches, as the plan leaves it (CapacityToJson), or null.
  Json capacity;
  Json ceph;      // the ceph: section the plan was made with ({"conf", "user"}), or null
  Json document;  // the merged documents it was made from, canonical (DocumentToJson)
  std::string fingerprint;
  PlanOptions options;
  std::vector<Change> changes;  // in apply order
  std::vector<Pending> pending;
  Diagnostics diagnostics;

  /// False when a diagnostic is an error: apply refuses such a plan and changes nothing.
  bool applyable() const { return !HasErrors(diagnostics); }
  bool empty() const { return changes.empty(); }
};

/// The JSON plan, ending in its `digest`: "sha256:<hex>" of the rest (PlanDigest).
Json PlanToJson(const Plan& plan);

/// "sha256:<hex>" of `plan_json` without its "digest" field, serialised canonically (keys
/// sorted, no spaces). Any edit of a saved plan changes it.
std::string PlanDigest(const Json& plan_json);

/// The one JSON form of each, shared by plans, `validate`, `observe`, apply reports and `serve`.
Json DiagnosticToJson(const Diagnostic& diagnostic);
Json DiagnosticsToJson(const Diagnostics& diagnostics);
Json PendingToJson(const std::vector<Pending>& pending);

}  // namespace vc
