#include "engine/planner.h"

#include <algorithm>
#include <map>
#include <set>

#include "engine/capacity.h"
#include "engine/change_rules.h"
#include "engine/cloud_init.h"
#include "engine/create_requirements.h"
#include "engine/diff.h"
#include "engine/document_json.h"
#include "engine/document_parser.h"
#include "engine/domain_rules.h"
#include "engine/domain_snapshots.h"
#include "engine/fingerprint.h"
#include "engine/host_rules.h"
#include "engine/ordering.h"
#include "engine/placement.h"
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
    // A seed rewritten since the guest booted, and not changing again now, waits for its boot.
    const bool seed_changes =
        std::any_of(change.attributes.begin(), change.attributes.end(),
                    [](const AttributeChange& a) { return a.path.starts_with("cloud_init"); });
    std::optional<Pending> seed = SeedPending(actual);
    if (seed && desired.spec.contains("cloud_init") && !seed_changes) {
      if (RestartAllowed(options, desired.spec)) {
        change.attributes.push_back({"cloud_init", seed->live, seed->config, Disruption::kRestart,
                                     "pending in the seed volume; the domain is restarted"});
      } else {
        pending->push_back(*seed);
      }
    }
  }
  if (replace) change.action = Action::kReplace;
  if (desired.address.kind == Kind::kDomain) {
    SplitCloudInitAttributes(&change.attributes);
    ClassifyDomainSnapshots(desired.spec, actual, RestartAllowed(options, desired.spec),
                            &change.attributes);
  }
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

// A partial declaration (only the fields it manages) of a resource the plan must create: an
// error per field it lacks, "domains.web1: creating needs memory".
void RequireCreatable(const DesiredResource& desired, const char* doing, Diagnostics* out) {
  for (const MissingField& m : MissingToCreate(desired)) {
    const std::string section(KindSection(desired.address.kind));
    out->push_back(ErrorDiagnostic(
        ErrorCode::kMissingField, desired.address.ToString(),
        section + "." + desired.address.name + ": " + doing + " needs " + m.field + m.why,
        std::string(doing == std::string("creating") ? "it does not exist"
                                                     : "a change forces it to be made again") +
            (desired.address.host.empty() ? "" : " on " + desired.address.host) + ": declare " +
            m.field + ", or declare only fields of a resource that exists"));
  }
}

}  // namespace

namespace {

// A domain of a fleet that moves: from where it is observed to where it is placed.
struct Move {
  Address from;  // observed
  Address to;    // placed
  const DesiredResource* desired;
};

// The disks of a moving domain that are local volumes (copied when it moves live), as
// (target, volume key).
std::vector<std::pair<std::string, std::string>> LocalDisks(const ObservedResource& r) {
  std::vector<std::pair<std::string, std::string>> out;
  const Json& spec = r.live.is_object() ? r.live : r.spec;
  for (const Json& disk : spec.value("disks", Json::array())) {
    if (disk.contains("volume")) out.emplace_back(disk.value("target", ""), disk["volume"]);
  }
  return out;
}

// Checks a move can be carried out and describes it: the "host" attribute of its change. Adds
// the source volumes to delete after a copy to `*copied` and refusals to `plan`.
AttributeChange PlanMove(const Move& move, const ObservedState& observed, const Document& placed,
                         std::vector<Address>* copied, Plan* plan) {
  const ObservedResource& actual = observed.resources.at(move.from);
  const std::string& from = move.from.host;
  const std::string& to = move.to.host;
  const bool live = IsRunning(actual);
  auto refuse = [&](ErrorCode code, const std::string& why) {
    plan->diagnostics.push_back(ErrorDiagnostic(
        code, move.to.ToString(),
        "domains." + move.to.name + ": cannot move from " + from + " to " + to + ": " + why));
  };
  auto check = observed.cpu_checks.find(CpuCheckKey(move.from, to));
  if (check != observed.cpu_checks.end() && check->second.is_array() && !check->second.empty()) {
    std::string names;
    for (const Json& f : check->second) names += (names.empty() ? "" : ", ") + f.get<std::string>();
    refuse(ErrorCode::kUnsupported, "its CPU needs features " + to + " lacks: " + names +
                                        " (give it a CPU model every host can run)");
  } else if (check != observed.cpu_checks.end() && check->second.is_object()) {
    refuse(ErrorCode::kUnsupported,
           to + " cannot run its CPU: " + check->second.value("error", "(no reason given)"));
  }
  std::vector<std::pair<std::string, std::string>> local = LocalDisks(actual);
  std::string copies;
  for (const auto& [target, key] : local) {
    Address source = RefOn(Kind::kVolume, key, from);
    Address dest = RefOn(Kind::kVolume, key, to);
    auto it = observed.resources.find(source);
    if (!live) {
      refuse(ErrorCode::kUnsupported,
             "it is stopped and disk " + target + " is the local volume " + key +
                 ": only a running domain has its disks copied (start it, or move the volume "
                 "yourself)");
      continue;
    }
    if (it != observed.resources.end() && it->second.spec.contains("backing_volume")) {
      refuse(ErrorCode::kUnsupported, "disk " + target + " (" + key +
                                          ") has a backing volume: backing chains are not copied");
      continue;
    }
    if (!placed.resources.count(dest) || observed.resources.count(dest)) {
      refuse(ErrorCode::kUnsupported,
             "disk " + target + " is the local volume " + key + ", which " +
                 (observed.resources.count(dest) ? "already exists on " + to
                                                 : "is not declared (declare it: it follows "
                                                   "the domain)") +
                 ": its copy needs a new volume there");
      continue;
    }
    copied->push_back(source);
    copies += (copies.empty() ? "" : ", ") + target + " (" + key + ")";
  }
  AttributeChange a{"host", from, to, live ? Disruption::kLive : Disruption::kNone, ""};
  if (!live) {
    a.reason = "stopped: defined on " + to + " and removed from " + from + "; nothing is copied";
  } else if (!copies.empty()) {
    a.reason = "live migration, memory and local disks: " + copies +
               " copied into volumes created on " + to + " first; the copies on " + from +
               " are deleted once the guest runs on " + to;
  } else {
    a.reason = actual.spec.value("disks", Json::array()).empty()
                   ? "live migration, memory only (no disks)"
                   : "live migration, memory only: every disk is on Ceph";
  }
  if (!move.desired->placed_why.empty()) a.reason = move.desired->placed_why + "; " + a.reason;
  return a;
}

}  // namespace

Plan ComputePlan(const Document& doc, const ObservedState& observed, const PlanOptions& options) {
  Plan plan;
  plan.connection = observed.connection;
  plan.ceph = doc.ceph;
  plan.document = DocumentToJson(doc);
  plan.options = options;
  for (const auto& [name, host] : doc.hosts) plan.hosts[name] = host.connection;
  plan.skipped_hosts = observed.skipped_hosts;
  const Document placed = PlaceOnHosts(doc, observed, options.allow_overcommit, &plan.diagnostics);
  Diagnostics references = CheckReferences(placed, observed);
  plan.diagnostics.insert(plan.diagnostics.end(), references.begin(), references.end());

  // The fleet as it will be once the moves are made: a moving domain is planned from where it
  // will be, with what it is now.
  std::vector<Move> moves;
  ObservedState view = observed;
  if (doc.fleet()) {
    for (const auto& [address, desired] : placed.resources) {
      if (address.kind != Kind::kDomain || desired.absent || observed.resources.count(address))
        continue;
      for (const auto& [other, r] : observed.resources) {
        if (other.kind == Kind::kDomain && other.name == address.name &&
            other.host != address.host && !other.host.empty()) {
          moves.push_back({other, address, &desired});
          ObservedResource moved = r;
          moved.address = address;
          view.resources.erase(other);
          view.resources[address] = std::move(moved);
          break;
        }
      }
    }
  }
  std::map<Address, AttributeChange> move_attribute;
  std::map<Address, std::vector<Address>> move_copies;
  std::set<Address> moved_volumes;  // the sources of copied disks, deleted by their move
  for (const Move& move : moves) {
    move_attribute.emplace(move.to, PlanMove(move, observed, placed, &move_copies[move.to], &plan));
    for (const Address& v : move_copies[move.to]) moved_volumes.insert(v);
  }

  std::set<Address> deleted;
  for (const auto& [address, desired] : placed.resources) {
    auto it = view.resources.find(address);
    if (desired.absent) {
      if (it != view.resources.end()) {
        plan.changes.push_back(DeleteChange(it->second, view));
        deleted.insert(address);
      }
      continue;
    }
    if (address.kind == Kind::kHost) {
      if (it == view.resources.end()) {
        plan.diagnostics.push_back(
            ErrorDiagnostic(ErrorCode::kNotFound, address.ToString(),
                            "hosts." + address.name + ": its settings (KSM) were not observed"));
        continue;
      }
      Change change = HostSettingsChange(desired, it->second, &plan.diagnostics);
      if (!change.attributes.empty()) plan.changes.push_back(std::move(change));
      continue;
    }
    if (it == view.resources.end()) {
      RequireCreatable(desired, "creating", &plan.diagnostics);
      Change create = CreateChange(desired);
      if (!desired.placed_why.empty()) {  // a host chosen for it: say which, and why
        create.attributes.insert(
            create.attributes.begin(),
            {"host", nullptr, address.host, Disruption::kNone, desired.placed_why});
      }
      plan.changes.push_back(std::move(create));
      continue;
    }
    Change change = UpdateChange(desired, it->second, options, doc.ceph, &plan.pending);
    if (change.action == Action::kReplace) {
      RequireCreatable(desired, "replacing", &plan.diagnostics);
    }
    for (AttributeChange& a : change.attributes) {
      if (a.path == "cpu" && !desired.cpu_note.empty())
        a.reason = desired.cpu_note + "; " + a.reason;
    }
    auto move = move_attribute.find(address);
    if (move != move_attribute.end()) {
      if (change.action == Action::kReplace) {
        plan.diagnostics.push_back(ErrorDiagnostic(
            ErrorCode::kUnsupported, address.ToString(),
            "domains." + address.name +
                ": cannot move and be replaced in one run: move it first, then change it"));
      }
      change.action = Action::kMigrate;
      change.from_host = move->second.before.get<std::string>();
      change.attributes.insert(change.attributes.begin(), move->second);
    }
    if (!change.attributes.empty()) plan.changes.push_back(std::move(change));
  }
  if (options.prune) {
    for (const auto& [address, actual] : view.resources) {
      if (actual.managed && placed.resources.count(address) == 0 && !moved_volumes.count(address)) {
        plan.changes.push_back(DeleteChange(actual, view));
        deleted.insert(address);
      }
    }
  }
  CheckPlan(view, deleted, &plan);
  if (doc.fleet()) {
    std::set<std::string> touched;
    for (const Change& c : plan.changes) {
      if (!c.address.host.empty()) touched.insert(c.address.host);
      if (!c.from_host.empty()) touched.insert(c.from_host);
    }
    std::vector<HostCapacity> capacity =
        ComputeCapacity(doc, placed, observed, view, deleted, touched);
    Diagnostics limits = CheckCapacity(capacity, options.allow_overcommit);
    plan.diagnostics.insert(plan.diagnostics.end(), limits.begin(), limits.end());
    plan.capacity = CapacityToJson(capacity);
  }

  std::stable_sort(plan.changes.begin(), plan.changes.end(),
                   [](const Change& a, const Change& b) { return StageOf(a) < StageOf(b); });
  std::set<std::string> macs = ObservedMacs(observed);
  for (const auto& [address, desired] : placed.resources) {
    for (const Json& nic : desired.spec.value("interfaces", Json::array())) {
      if (nic.contains("mac")) macs.insert(nic["mac"].get<std::string>());  // declared elsewhere
    }
  }
  for (Change& change : plan.changes) {
    change.steps = change.address.kind == Kind::kHost ? HostSettingsSteps(change)
                                                      : StepsFor(change, options, view, &macs);
    if (change.action != Action::kMigrate) continue;
    // The move first, then the copied disks' sources go, then what else changes, on the new
    // host. Autostart is the host's, not the definition's: set again there.
    const Address from{Kind::kDomain, change.address.name, change.from_host};
    const ObservedResource& actual = observed.resources.at(from);
    std::vector<Step> steps;
    Json copy = Json::array();
    for (const auto& [target, key] : LocalDisks(actual)) copy.push_back(target);
    steps.push_back({Step::Op::kMigrate,
                     from,
                     {{"to", change.address.host},
                      {"live", IsRunning(actual)},
                      {"copy_disks", IsRunning(actual) ? copy : Json::array()}}});
    for (const Address& v : move_copies[change.address])
      steps.push_back({Step::Op::kDelete, v, Json::object()});
    const bool autostart = change.desired.value("autostart", actual.spec.value("autostart", false));
    bool sets_autostart = false;
    for (const Step& s : change.steps) sets_autostart |= s.op == Step::Op::kSetAutostart;
    if (autostart && !sets_autostart)
      steps.push_back({Step::Op::kSetAutostart, change.address, {{"autostart", true}}});
    for (Step& s : change.steps) steps.push_back(std::move(s));
    change.steps = std::move(steps);
  }

  plan.fingerprint = Fingerprint(observed, FingerprintAddresses(plan.changes));
  return plan;
}

StatusOr<ObservedState> ObserveFor(const Document& doc, const PlanOptions& options,
                                   Provider& provider) {
  std::optional<std::set<Address>> scope = ObservationScope(doc, options);
  return scope ? provider.ObserveSome(*scope) : provider.ObserveAll();
}

}  // namespace vc
