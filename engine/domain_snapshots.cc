#include "engine/domain_snapshots.h"

#include <algorithm>
#include <set>

#include "engine/diff.h"

namespace vc {
namespace {

std::set<std::string> Names(const Json& list) {
  std::set<std::string> names;
  if (!list.is_array()) return names;
  for (const Json& name : list) {
    if (name.is_string()) names.insert(name.get<std::string>());
  }
  return names;
}

std::string List(const Json& names) {
  std::string out;
  for (const Json& name : names) out += (out.empty() ? "" : ", ") + name.get<std::string>();
  return out;
}

}  // namespace

Json SnapshotsAsCompared(const Json& declared, const Json& observed_spec) {
  Json have =
      observed_spec.is_object() ? observed_spec.value("snapshots", Json::array()) : Json::array();
  if (have.is_array() && declared.is_array() && Names(have) == Names(declared) &&
      have.size() == declared.size()) {
    return declared;
  }
  return have;
}

bool RunsAfterPlan(const Json& desired_spec, const ObservedResource* observed) {
  if (desired_spec.contains("state")) return desired_spec["state"] == "running";
  return observed == nullptr || observed->spec.value("state", "") == "running";
}

std::string SnapshotConsistency(const ObservedResource* observed, bool running_after,
                                bool restarted) {
  if (!running_after) return "stopped";
  const bool agent =
      observed != nullptr && !restarted && observed->spec.value("state", "") == "running" &&
      observed->facts.is_object() && observed->facts.value("guest_agent", "") == "connected";
  return agent ? "quiesce" : "pause";
}

void ClassifySnapshots(const std::string& consistency, AttributeChange* a) {
  const Json removed = Minus(a->before, a->after);
  const Json added = Minus(a->after, a->before);
  if (!removed.empty()) {
    a->disruption = Disruption::kDestructive;
    a->reason = "snapshot(s) " + List(removed) +
                " deleted: merged into the disks, their point in time is lost";
    if (!added.empty()) a->reason += "; " + List(added) + " taken";
    return;
  }
  a->disruption = consistency == "stopped" ? Disruption::kNone : Disruption::kLive;
  if (consistency == "quiesce") {
    a->reason = "taken live, file systems frozen by the guest agent";
  } else if (consistency == "pause") {
    a->reason =
        "taken live; no guest agent answers, so the guest is paused while its disks "
        "are snapshotted (crash-consistent, not quiesced)";
  } else {
    a->reason = "taken of the stopped domain's disks";
  }
}

void ClassifyDomainSnapshots(const Json& desired_spec, const ObservedResource& observed,
                             bool restart_allowed, std::vector<AttributeChange>* attributes) {
  bool restarted = false;
  for (const AttributeChange& a : *attributes) {
    restarted = restarted || (restart_allowed && a.disruption == Disruption::kRestart);
  }
  for (AttributeChange& a : *attributes) {
    if (a.path != "snapshots") continue;
    ClassifySnapshots(
        SnapshotConsistency(&observed, RunsAfterPlan(desired_spec, &observed), restarted), &a);
  }
}

Json SnapshotDisks(const Json& desired_spec, const ObservedResource* observed) {
  const Json* disks = desired_spec.contains("disks") ? &desired_spec["disks"]
                      : observed != nullptr && observed->spec.contains("disks")
                          ? &observed->spec["disks"]
                          : nullptr;
  Json out = Json::array();
  if (disks == nullptr || !disks->is_array()) return out;
  for (const Json& disk : *disks) {
    Json entry = {{"target", disk.value("target", "")}};
    if (disk.contains("rbd")) {
      entry["rbd"] = disk["rbd"];
    } else if (disk.contains("volume")) {
      entry["volume"] = disk["volume"];
    } else {
      continue;
    }
    out.push_back(entry);
  }
  return out;
}

std::vector<Step> SnapshotSteps(const Address& domain, const AttributeChange& a, const Json& disks,
                                const std::string& consistency) {
  std::vector<Step> steps;
  for (const Json& name : Minus(a.before, a.after)) {
    steps.push_back(
        {Step::Op::kDeleteDomainSnapshot,
         domain,
         {{"snapshot", name}, {"running", consistency != "stopped"}, {"disks", disks}}});
  }
  for (const Json& name : Minus(a.after, a.before)) {
    steps.push_back({Step::Op::kSnapshotDomain,
                     domain,
                     {{"snapshot", name}, {"consistency", consistency}, {"disks", disks}}});
  }
  return steps;
}

std::optional<std::string> BadSnapshotRecord(const ObservedResource& observed) {
  if (!observed.facts.is_object() || !observed.facts.contains("snapshot_record_error")) {
    return std::nullopt;
  }
  return "its snapshot record is not one virtconverge writes, so it is not acted on: " +
         observed.facts.value("snapshot_record_error", "") +
         " (repair it, or remove it with `virsh metadata " + observed.address.name +
         " https://virtconverge.dev/xmlns/snapshots/1 --config --remove`)";
}

}  // namespace vc
