#include "engine/steps.h"

#include <algorithm>

#include "engine/change_rules.h"
#include "engine/cloud_init.h"
#include "engine/diff.h"
#include "engine/domain_rules.h"
#include "engine/domain_snapshots.h"
#include "engine/size.h"

namespace vc {
namespace {

// The running domains that have `image` (a volume or RBD image) as a disk, with its target.
std::vector<std::pair<Address, std::string>> RunningUsers(const ObservedState& state,
                                                          const Address& image) {
  const char* key = image.kind == Kind::kRbdImage ? "rbd" : "volume";
  std::vector<std::pair<Address, std::string>> users;
  for (const auto& [address, r] : state.resources) {
    if (address.kind != Kind::kDomain || !IsRunning(r) || !r.live.is_object()) continue;
    if (image.kind == Kind::kVolume && address.host != image.host) continue;
    for (const Json& disk : r.live.value("disks", Json::array())) {
      if (disk.value(key, "") == image.name) users.emplace_back(address, disk.value("target", ""));
    }
  }
  return users;
}

// Creating an RBD image: a clone's parent snapshot is protected first (clones may only be made
// from protected snapshots), then the image is made, then its own snapshots, then flattened.
void RbdCreateSteps(const Change& change, const ObservedState& state, std::vector<Step>* steps) {
  const Json& d = change.desired;
  Json create = d;
  create.erase("snapshots");
  create.erase("flatten");
  if (d.contains("clone_from")) {
    std::string source = d["clone_from"];
    Address parent = RefOn(Kind::kRbdImage, source.substr(0, source.find('@')), "");
    std::string snapshot = source.substr(source.find('@') + 1);
    auto it = state.resources.find(parent);
    Json protected_snapshots = it == state.resources.end() || !it->second.facts.is_object()
                                   ? Json::array()
                                   : it->second.facts.value("protected_snapshots", Json::array());
    if (std::find(protected_snapshots.begin(), protected_snapshots.end(), snapshot) ==
        protected_snapshots.end()) {
      steps->push_back({Step::Op::kProtectSnapshot, parent, {{"snapshot", snapshot}}});
    }
  }
  steps->push_back({Step::Op::kCreate, change.address, create});
  if (!d.value("snapshots", Json::array()).empty()) {
    steps->push_back({Step::Op::kCreateSnapshots, change.address, {{"snapshots", d["snapshots"]}}});
  }
  if (d.value("flatten", false) && d.contains("clone_from")) {
    steps->push_back({Step::Op::kFlatten, change.address, Json::object()});
  }
}

// The write_seed step of a domain declaring cloud_init: the plan records the seed's hash, apply
// builds the image again from the document and writes it only when it hashes the same.
// `mark_pending`: a running guest that is not restarted for it is marked as still on the seed it
// booted with (a restart-class change); a next-boot change (on_change: next_boot) is not.
Step WriteSeedStep(const Address& address, const Json& cloud_init, bool mark_pending) {
  return {Step::Op::kWriteSeed,
          address,
          {{"pool", cloud_init.value("pool", "")},
           {"volume", SeedVolumeName(address.name)},
           {"seed", SeedHash(SeedFiles(cloud_init))},
           {"mark_pending", mark_pending},
           {"cloud_init", cloud_init}}};
}

}  // namespace

std::vector<Step> StepsFor(const Change& change, const PlanOptions& options,
                           const ObservedState& state, std::set<std::string>* taken_macs) {
  const Address& address = change.address;
  const Json shutdown = {{"timeout_seconds", options.shutdown_timeout_seconds}};
  auto found = state.resources.find(address);
  const ObservedResource* observed = found == state.resources.end() ? nullptr : &found->second;
  const bool running = observed != nullptr && IsRunning(*observed);
  std::vector<Step> steps;

  auto create = [&]() {
    if (address.kind == Kind::kRbdImage) {
      RbdCreateSteps(change, state, &steps);
      return;
    }
    if (address.kind != Kind::kDomain) {
      steps.push_back({Step::Op::kCreate, address, change.desired});
      return;
    }
    if (change.desired.contains("cloud_init")) {
      steps.push_back(WriteSeedStep(address, change.desired["cloud_init"], true));
    }
    steps.push_back({Step::Op::kCreate, address,
                     WithChosenMacs(change.desired, address.name, nullptr, taken_macs)});
    if (change.desired.value("autostart", false)) {
      steps.push_back({Step::Op::kSetAutostart, address, {{"autostart", true}}});
    }
    if (change.desired.value("state", "running") == "running") {
      steps.push_back({Step::Op::kStart, address, Json::object()});
    }
    if (address.kind == Kind::kDomain && change.desired.contains("snapshots")) {
      const std::string consistency =
          SnapshotConsistency(nullptr, RunsAfterPlan(change.desired, nullptr), false);
      AttributeChange taken{"snapshots", Json::array(), change.desired["snapshots"],
                            Disruption::kLive, ""};
      for (Step& step :
           SnapshotSteps(address, taken, SnapshotDisks(change.desired, nullptr), consistency)) {
        steps.push_back(std::move(step));
      }
    }
  };
  auto remove = [&]() {
    if (address.kind == Kind::kDomain && running)
      steps.push_back({Step::Op::kShutdown, address, shutdown});
    if (address.kind == Kind::kDomain && observed != nullptr) {
      // Its snapshots first: their overlays merged down, so its volumes keep the latest data.
      const Json disks = SnapshotDisks(Json::object(), observed);
      for (const Json& name : observed->spec.value("snapshots", Json::array())) {
        steps.push_back({Step::Op::kDeleteDomainSnapshot,
                         address,
                         {{"snapshot", name}, {"running", false}, {"disks", disks}}});
      }
    }
    Json args = Json::object();
    if (address.kind == Kind::kRbdImage && observed != nullptr) {
      args["snapshots"] = observed->spec.value("snapshots", Json::array());  // removed with it
    }
    steps.push_back({Step::Op::kDelete, address, args});
  };

  switch (change.action) {
    case Action::kCreate:
      create();
      break;
    case Action::kDelete:
      remove();
      break;
    case Action::kReplace:
      remove();
      create();
      break;
    case Action::kMigrate:  // the moves are the planner's; what follows them is an update
    case Action::kUpdate: {
      bool hardware = false;
      bool restart_needed = false;
      bool seed = false;
      bool seed_restart = false;  // a cloud_init change the guest needs a restart for
      const AttributeChange* snapshots = nullptr;
      std::optional<std::string> new_state;
      std::vector<const AttributeChange*> live_hardware;
      for (const AttributeChange& a : change.attributes) {
        if (a.path == "state") new_state = a.after.get<std::string>();
        if (a.path == "autostart")
          steps.push_back({Step::Op::kSetAutostart, address, {{"autostart", a.after}}});
        if ((address.kind == Kind::kVolume && a.path == "capacity") ||
            (address.kind == Kind::kRbdImage && a.path == "size")) {
          // A running QEMU holds the image open (and locked): it must grow it itself.
          auto users = RunningUsers(state, address);
          if (users.empty()) {
            steps.push_back({Step::Op::kResize,
                             address,
                             {{"bytes", SizeBytes(a.after)},
                              {"allow_shrink", a.disruption == Disruption::kDestructive}}});
          }
          for (const auto& [domain, target] : users) {
            steps.push_back({Step::Op::kBlockResize,
                             domain,
                             {{"target", target}, {"bytes", SizeBytes(a.after)}}});
          }
        }
        if (address.kind == Kind::kRbdImage && a.path == "features") {
          steps.push_back(
              {Step::Op::kUpdateFeatures,
               address,
               {{"enable", Minus(a.after, a.before)}, {"disable", Minus(a.before, a.after)}}});
        }
        if (address.kind == Kind::kRbdImage && a.path == "snapshots") {
          steps.push_back(
              {Step::Op::kCreateSnapshots, address, {{"snapshots", Minus(a.after, a.before)}}});
        }
        if (address.kind == Kind::kDomain && a.path == "ceph_secret") {
          steps.push_back({Step::Op::kDefineCephSecret, address, a.after});
        }
        if (address.kind == Kind::kRbdImage && a.path == "flatten" && a.after == true) {
          steps.push_back({Step::Op::kFlatten, address, Json::object()});
        }
        if (address.kind == Kind::kDomain && a.path == "snapshots") snapshots = &a;
        if (address.kind == Kind::kDomain && a.path.starts_with("cloud_init")) {
          // The seed volume is written, and the CD-ROM (re)attached in the persistent config.
          seed = true;
          hardware = true;
          seed_restart = seed_restart || a.disruption == Disruption::kRestart;
          restart_needed = restart_needed || a.disruption == Disruption::kRestart;
        }
        if (address.kind == Kind::kDomain && IsDomainHardware(a.path)) {
          hardware = true;
          restart_needed = restart_needed || a.disruption == Disruption::kRestart;
          if (a.disruption == Disruption::kLive) live_hardware.push_back(&a);
        }
      }
      Json desired = address.kind == Kind::kDomain && hardware
                         ? WithChosenMacs(change.desired, address.name, observed, taken_macs)
                         : change.desired;
      if (new_state == "stopped") steps.push_back({Step::Op::kShutdown, address, shutdown});
      if (seed && change.desired.contains("cloud_init")) {
        steps.push_back(WriteSeedStep(address, change.desired["cloud_init"], seed_restart));
      }
      if (hardware) steps.push_back({Step::Op::kWriteConfig, address, desired});
      if (restart_needed && RestartAllowed(options, change.desired)) {
        // The restart boots the new config; live steps would be redundant.
        steps.push_back({Step::Op::kShutdown, address, shutdown});
        steps.push_back({Step::Op::kStart, address, Json::object()});
      } else if (running && new_state != "stopped" && observed != nullptr) {
        for (const AttributeChange* a : live_hardware) {
          for (Step& step : LiveSteps(address, *a, desired, *observed))
            steps.push_back(std::move(step));
        }
      }
      if (new_state == "running") steps.push_back({Step::Op::kStart, address, Json::object()});
      if (snapshots != nullptr) {
        // Last: the snapshot covers the disks as this plan leaves them, made consistent the way
        // the plan's classification said (ClassifyDomainSnapshots).
        const bool restarted = restart_needed && RestartAllowed(options, change.desired);
        const std::string consistency =
            SnapshotConsistency(observed, RunsAfterPlan(change.desired, observed), restarted);
        for (Step& step : SnapshotSteps(address, *snapshots,
                                        SnapshotDisks(change.desired, observed), consistency)) {
          steps.push_back(std::move(step));
        }
      }
      break;
    }
  }
  return steps;
}

}  // namespace vc
