#include "engine/planner.h"

#include <algorithm>
#include <set>

#include "engine/change_rules.h"
#include "engine/diff.h"
#include "engine/document_json.h"
#include "engine/document_parser.h"
#include "engine/domain_rules.h"
#include "engine/fingerprint.h"
#include "engine/ordering.h"
#include "engine/plan_checks.h"
#include "engine/steps.h"

namespace vc {
namespace {

// The change that brings an existing resource to `desired`, or one without attributes when
// nothing differs.
Change UpdateChange(const DesiredResource& desired, const ObservedResource& actual,
                    const PlanOptions& options, const Json& ceph, std::vector<Pending>* pending) {
  Change change{
      desired.address, Action::kUpdate, {}, Project(actual.spec, desired.spec), desired.spec, {}};
  const bool stays_running = desired.address.kind == Kind::kDomain && IsRunning(actual) &&
                             actual.live.is_object() &&
                             desired.spec.value("state", "running") == "running";
  bool replace = false;
  for (AttributeChange& a : DiffResource(desired.address.kind, desired.spec, actual.spec)) {
    if (stays_running && IsDomainHardware(a.path)) continue;
    Classify(desired, actual, &a, &replace);
    change.attributes.push_back(std::move(a));
  }
  if (stays_running) {
    PlanRunningHardware(desired, actual, RestartAllowed(options, desired.spec), &change, pending);
  }
  if (replace) change.action = Action::kReplace;
  // A secret a declared RBD disk authenticates with, removed behind our back: the guest could
  // not start or attach the disk any more, so it is defined again with the ceph: section's key
  // (only for the section's own user: another user's secret holds another key).
  if (!replace && actual.facts.is_object() && actual.facts.contains("missing_secrets") &&
      ceph.is_object()) {
    const std::string user = ceph.value("user", "admin");
    std::set<std::string> declared;
    for (const Json& disk : desired.spec.value("disks", Json::array())) {
      if (disk.contains("rbd")) declared.insert(disk.value("target", ""));
    }
    std::set<std::string> planned;
    for (const Json& missing : actual.facts["missing_secrets"]) {
      const std::string uuid = missing.value("uuid", "");
      if (!declared.count(missing.value("target", "")) || missing.value("user", "") != user ||
          !planned.insert(uuid).second) {
        continue;
      }
      change.attributes.push_back({"ceph_secret", nullptr, Json{{"user", user}, {"uuid", uuid}},
                                   Disruption::kNone,
                                   "the libvirt secret RBD disk " + missing.value("target", "") +
                                       " authenticates with is gone: defined again from the "
                                       "ceph: section"});
    }
  }
  return change;
}

}  // namespace

Plan ComputePlan(const Document& doc, const ObservedState& observed, const PlanOptions& options) {
  Plan plan;
  plan.connection = observed.connection;
  plan.ceph = doc.ceph;
  plan.document = DocumentToJson(doc);
  plan.options = options;
  plan.diagnostics = CheckReferences(doc, observed);

  std::set<Address> deleted;
  for (const auto& [address, desired] : doc.resources) {
    auto it = observed.resources.find(address);
    if (desired.absent) {
      if (it != observed.resources.end()) {
        plan.changes.push_back(DeleteChange(it->second, observed));
        deleted.insert(address);
      }
      continue;
    }
    if (it == observed.resources.end()) {
      plan.changes.push_back(CreateChange(desired));
      continue;
    }
    Change change = UpdateChange(desired, it->second, options, doc.ceph, &plan.pending);
    if (!change.attributes.empty()) plan.changes.push_back(std::move(change));
  }
  if (options.prune) {
    for (const auto& [address, actual] : observed.resources) {
      if (actual.managed && doc.resources.count(address) == 0) {
        plan.changes.push_back(DeleteChange(actual, observed));
        deleted.insert(address);
      }
    }
  }
  CheckPlan(observed, deleted, &plan);

  std::stable_sort(plan.changes.begin(), plan.changes.end(),
                   [](const Change& a, const Change& b) { return StageOf(a) < StageOf(b); });
  std::set<std::string> macs = ObservedMacs(observed);
  for (const auto& [address, desired] : doc.resources) {
    for (const Json& nic : desired.spec.value("interfaces", Json::array())) {
      if (nic.contains("mac")) macs.insert(nic["mac"].get<std::string>());  // declared elsewhere
    }
  }
  for (Change& change : plan.changes) change.steps = StepsFor(change, options, observed, &macs);

  plan.fingerprint = Fingerprint(observed, FingerprintAddresses(plan.changes));
  return plan;
}

StatusOr<ObservedState> ObserveFor(const Document& doc, const PlanOptions& options,
                                   Provider& provider) {
  std::optional<std::set<Address>> scope = ObservationScope(doc, options);
  return scope ? provider.ObserveSome(*scope) : provider.ObserveAll();
}

}  // namespace vc
