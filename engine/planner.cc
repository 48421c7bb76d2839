#include "engine/planner.h"

#include <algorithm>
#include <set>

#include "engine/document_parser.h"
#include "engine/domain_rules.h"
#include "engine/fingerprint.h"
#include "engine/size.h"

namespace vc {
namespace {

// Fields whose change means the resource is destroyed and created again.
bool ForcesReplace(Kind kind, const std::string& path) {
  switch (kind) {
    case Kind::kPool: return path == "type" || path == "path" || path == "volume_group";
    case Kind::kNetwork: return path == "mode" || path == "bridge";
    case Kind::kVolume: return path == "format" || path == "backing_volume";
    case Kind::kRbdImage: return path == "clone_from";
    case Kind::kDomain: return false;
  }
  return false;
}

bool IsRunning(const ObservedResource& r) { return r.spec.value("state", "") == "running"; }

std::uint64_t Bytes(const Json& size) {
  return size.is_string() ? ParseSize(size.get<std::string>()).value() : 0;
}

std::string VolumePool(const std::string& volume) { return volume.substr(0, volume.find('/')); }

// Whether a disk entry is `image` (a volume or RBD image address).
bool DiskIs(const Json& disk, const Address& image) {
  const char* key = image.kind == Kind::kRbdImage ? "rbd" : "volume";
  return disk.value(key, "") == image.name;
}

// The running domains that have `image` as a disk, with the target they see it as.
std::vector<std::pair<std::string, std::string>> RunningUsers(const ObservedState& state,
                                                              const Address& image) {
  std::vector<std::pair<std::string, std::string>> users;
  for (const auto& [address, r] : state.resources) {
    if (address.kind != Kind::kDomain || !IsRunning(r) || !r.live.is_object()) continue;
    for (const Json& disk : r.live.value("disks", Json::array())) {
      if (DiskIs(disk, image)) users.emplace_back(address.name, disk.value("target", ""));
    }
  }
  return users;
}

// Every domain (observed) that has `image` as a disk in its config or live definition.
std::vector<std::string> Users(const ObservedState& state, const Address& image) {
  std::vector<std::string> users;
  for (const auto& [address, r] : state.resources) {
    if (address.kind != Kind::kDomain) continue;
    for (const Json* spec : {&r.spec, &r.live}) {
      if (!spec->is_object()) continue;
      bool uses = false;
      for (const Json& disk : spec->value("disks", Json::array())) {
        uses = uses || DiskIs(disk, image);
      }
      if (uses) {
        users.push_back(address.name);
        break;
      }
    }
  }
  return users;
}

void Classify(const DesiredResource& desired, const ObservedResource& observed,
              AttributeChange* a, bool* replace) {
  const Kind kind = desired.address.kind;
  if (ForcesReplace(kind, a->path)) {
    *replace = true;
    a->disruption = Disruption::kDestructive;
    a->reason = kind == Kind::kVolume ? "the volume is deleted and created again: its data is lost"
                                      : std::string("the ") + std::string(KindName(kind)) +
                                            " is undefined and defined again";
    return;
  }
  if (a->path == "autostart") {
    a->disruption = Disruption::kNone;
    a->reason = "takes effect when libvirtd starts";
    return;
  }
  if (kind == Kind::kRbdImage && a->path == "features") {
    a->disruption = Disruption::kLive;
    a->reason = "features changed on the image in place";
    return;
  }
  if (kind == Kind::kRbdImage && a->path == "snapshots") {
    a->disruption = Disruption::kNone;
    a->reason = "snapshots created";
    return;
  }
  if (kind == Kind::kRbdImage && a->path == "flatten") {
    a->disruption = Disruption::kLive;
    a->reason = "copies the parent's data into the clone; the parent link goes";
    return;
  }
  if ((kind == Kind::kVolume && a->path == "capacity") || (kind == Kind::kRbdImage && a->path == "size")) {
    if (Bytes(a->after) < Bytes(a->before)) {
      a->disruption = Disruption::kDestructive;
      a->reason = "shrink: data beyond the new end is lost";
    } else {
      a->disruption = Disruption::kLive;
      a->reason = "grow";
    }
    return;
  }
  if (kind == Kind::kDomain && a->path == "state") {
    a->disruption = Disruption::kLive;
    a->reason = a->after == "running" ? "start" : "graceful shutdown (ACPI), forced after the timeout";
    return;
  }
  if (kind == Kind::kDomain && IsDomainHardware(a->path)) {
    // Running domains are classified attribute by attribute in PlanRunningHardware.
    a->disruption = Disruption::kNone;
    a->reason = IsRunning(observed) ? "the domain is being shut down: applied to its config"
                                    : "the domain is not running: applied to its config";
    return;
  }
  a->disruption = Disruption::kNone;
}

Change CreateChange(const DesiredResource& desired) {
  Change change{desired.address, Action::kCreate, {}, nullptr, desired.spec};
  for (const auto& [key, value] : desired.spec.items()) {
    change.attributes.push_back({key, nullptr, value, Disruption::kNone, ""});
  }
  if (desired.address.kind == Kind::kDomain && desired.spec.value("state", "running") == "running") {
    for (AttributeChange& a : change.attributes) {
      if (a.path == "state") {
        a.disruption = Disruption::kLive;
        a.reason = "start";
      }
    }
  }
  return change;
}

Change DeleteChange(const ObservedResource& observed, const ObservedState& state) {
  Change change{observed.address, Action::kDelete, {}, observed.spec, nullptr};
  AttributeChange a{"ensure", "present", "absent", Disruption::kNone, ""};
  switch (observed.address.kind) {
    case Kind::kVolume:
      a.disruption = Disruption::kDestructive;
      a.reason = "the volume and its data are deleted";
      break;
    case Kind::kRbdImage:
      a.disruption = Disruption::kDestructive;
      a.reason = "the image, its snapshots and its data are deleted";
      break;
    case Kind::kDomain:
      a.disruption = IsRunning(observed) ? Disruption::kRestart : Disruption::kNone;
      a.reason = IsRunning(observed) ? "the running guest is shut down, then undefined; its volumes are kept"
                                     : "undefined; its volumes are kept";
      break;
    case Kind::kPool: {
      int volumes = 0;
      for (const auto& [address, r] : state.resources) {
        volumes += address.kind == Kind::kVolume && VolumePool(address.name) == observed.address.name;
      }
      a.disruption = volumes > 0 ? Disruption::kDestructive : Disruption::kNone;
      a.reason = volumes > 0 ? "stopped and undefined while it holds " + std::to_string(volumes) +
                                   " volume(s); their files stay but libvirt no longer tracks them"
                             : "stopped and undefined; its directory is kept";
      break;
    }
    case Kind::kNetwork:
      a.disruption = Disruption::kLive;
      a.reason = "its bridge is torn down";
      break;
  }
  change.attributes.push_back(a);
  return change;
}

bool RestartAllowed(const PlanOptions& options, const Json& desired) {
  return options.allow_restart || desired.value("restart", "pending") == "allowed";
}

// The hardware attributes of a domain that is running and stays running: each compared with what
// the guest has now (live) and with its persistent config, and applied live where QEMU can.
void PlanRunningHardware(const DesiredResource& desired, const ObservedResource& actual,
                         const PlanOptions& options, Change* change, std::vector<Pending>* pending) {
  for (const auto& [key, want] : desired.spec.items()) {
    if (!IsDomainHardware(key)) continue;
    Json config = Project(actual.spec.value(key, Json()), want);
    if (!HasComparableLiveValue(key)) {
      if (config != want) {
        change->attributes.push_back({key, config, want, Disruption::kRestart,
                                      ClassifyLive(key, want, desired.spec, actual).reason});
      }
      continue;
    }
    Json live = Project(actual.live.value(key, Json()), want);
    if (live == want) {
      if (config != want) {
        change->attributes.push_back({key, config, want, Disruption::kNone,
                                      "the running guest has it already: persistent config only"});
      }
      continue;
    }
    LiveVerdict verdict = ClassifyLive(key, want, desired.spec, actual);
    if (verdict.live) {
      change->attributes.push_back({key, live, want, Disruption::kLive, verdict.reason});
    } else if (config != want) {
      change->attributes.push_back({key, live, want, Disruption::kRestart,
                                    verdict.reason + "; written to the persistent config for the next boot"});
    } else if (RestartAllowed(options, desired.spec)) {
      change->attributes.push_back({key, live, want, Disruption::kRestart,
                                    "pending in the persistent config; the domain is restarted"});
    } else {
      pending->push_back({desired.address, key, live, config});
    }
  }
}

void AddDiagnostic(Plan* plan, const Address& address, const std::string& summary,
                   const std::string& detail = "") {
  plan->diagnostics.push_back({Diagnostic::Severity::kError, address.ToString(), summary, detail});
}

}  // namespace

Json Project(const Json& observed, const Json& desired) {
  if (desired.is_object() && observed.is_object()) {
    Json out = Json::object();
    for (const auto& [key, value] : desired.items()) {
      auto it = observed.find(key);
      out[key] = it == observed.end() ? Json(nullptr) : Project(*it, value);
    }
    return out;
  }
  if (desired.is_array() && observed.is_array()) {
    // Elements beyond the declared ones are cut to the union of the declared sub-fields, so an
    // extra disk shows up in the diff with the same fields as the declared ones.
    Json shape = Json::object();
    for (const Json& element : desired) {
      if (element.is_object()) shape.update(element);
    }
    Json out = Json::array();
    for (std::size_t i = 0; i < observed.size(); ++i) {
      const Json& element_shape = i < desired.size() ? desired[i] : shape;
      out.push_back(element_shape.empty() ? observed[i] : Project(observed[i], element_shape));
    }
    return out;
  }
  return observed;
}

std::vector<AttributeChange> DiffResource(Kind kind, const Json& desired, const Json& observed) {
  if (kind == Kind::kDomain) {
    std::vector<AttributeChange> out;
    for (AttributeChange& a : DiffAttributes(desired, observed)) {
      if (!IsPolicyField(a.path)) out.push_back(std::move(a));
    }
    return out;
  }
  if (kind != Kind::kRbdImage || !observed.is_object()) return DiffAttributes(desired, observed);
  Json want = desired;
  Json have = observed;
  have["flatten"] = !observed.contains("clone_from");
  if (want.value("flatten", false)) {
    want.erase("clone_from");  // the source it was cloned from is history once flattened
  }
  if (want.contains("snapshots")) {
    Json present = Json::array();
    for (const Json& name : observed.value("snapshots", Json::array())) {
      bool declared = false;
      for (const Json& w : want["snapshots"]) declared = declared || w == name;
      if (declared) present.push_back(name);
    }
    have["snapshots"] = present;
  }
  return DiffAttributes(want, have);
}

std::vector<AttributeChange> DiffAttributes(const Json& desired, const Json& observed) {
  std::vector<AttributeChange> out;
  for (const auto& [key, value] : desired.items()) {
    auto it = observed.find(key);
    Json before = it == observed.end() ? Json(nullptr) : Project(*it, value);
    if (before != value) out.push_back({key, before, value, Disruption::kNone, ""});
  }
  return out;
}

Plan ComputePlan(const Document& doc, const ObservedState& observed, const PlanOptions& options) {
  Plan plan;
  plan.connection = observed.connection;
  plan.ceph = doc.ceph;
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
    const ObservedResource& actual = it->second;
    Change change{address, Action::kUpdate, {}, Project(actual.spec, desired.spec), desired.spec};
    bool stays_running = address.kind == Kind::kDomain && IsRunning(actual) &&
                         actual.live.is_object() &&
                         desired.spec.value("state", "running") == "running";
    bool replace = false;
    for (AttributeChange& a : DiffResource(address.kind, desired.spec, actual.spec)) {
      if (stays_running && IsDomainHardware(a.path)) continue;
      Classify(desired, actual, &a, &replace);
      change.attributes.push_back(std::move(a));
    }
    if (stays_running) PlanRunningHardware(desired, actual, options, &change, &plan.pending);
    if (replace) change.action = Action::kReplace;
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

  // An RBD image cannot go while a clone that stays depends on it.
  for (const Address& address : deleted) {
    if (address.kind != Kind::kRbdImage) continue;
    for (const auto& [other, r] : observed.resources) {
      std::string source = r.spec.is_object() ? r.spec.value("clone_from", "") : "";
      if (other.kind == Kind::kRbdImage && source.substr(0, source.find('@')) == address.name &&
          !deleted.count(other)) {
        AddDiagnostic(&plan, address, address.ToString() + ": cannot delete: the clone " + other.name +
                                          " depends on it (flatten or delete the clone first)");
      }
    }
  }

  // A volume cannot go while a domain that stays keeps using it.
  for (const Address& address : deleted) {
    if (address.kind != Kind::kVolume && address.kind != Kind::kRbdImage) continue;
    for (const std::string& user : Users(observed, address)) {
      if (!deleted.count(Address{Kind::kDomain, user})) {
        AddDiagnostic(&plan, address, address.ToString() + ": cannot delete: domain " + user +
                                          " uses it (remove the disk or the domain first)");
      }
    }
  }

  // A running guest cannot be shrunk under: its disk would lose its end while in use.
  for (const Change& change : plan.changes) {
    for (const AttributeChange& a : change.attributes) {
      bool shrink = (a.path == "capacity" || a.path == "size") && a.disruption == Disruption::kDestructive;
      if (!shrink || change.action != Action::kUpdate) continue;
      for (const auto& [domain, target] : RunningUsers(observed, change.address)) {
        AddDiagnostic(&plan, change.address, change.address.ToString() + ": cannot shrink while domain " +
                                                 domain + " runs with it as " + target + " (stop it first)");
      }
    }
  }

  for (const Change& change : plan.changes) {
    if (change.disruption() == Disruption::kDestructive && !options.allow_destroy) {
      std::string what;
      for (const AttributeChange& a : change.attributes) {
        if (a.disruption == Disruption::kDestructive) what += (what.empty() ? "" : "; ") + a.path + ": " + a.reason;
      }
      AddDiagnostic(&plan, change.address,
                    change.address.ToString() + ": destructive change refused without --allow-destroy",
                    what);
    }
  }

  std::stable_sort(plan.changes.begin(), plan.changes.end(),
                   [](const Change& a, const Change& b) { return StageOf(a) < StageOf(b); });

  plan.fingerprint = Fingerprint(observed, FingerprintAddresses(plan.changes));
  return plan;
}

std::optional<std::set<Address>> ObservationScope(const Document& doc, const PlanOptions& options) {
  if (options.prune) return std::nullopt;
  std::set<Address> scope;
  for (const auto& [address, desired] : doc.resources) {
    if (address.kind == Kind::kVolume || address.kind == Kind::kRbdImage) return std::nullopt;
    if (address.kind == Kind::kPool && desired.absent) return std::nullopt;
    scope.insert(address);
    if (desired.absent) continue;
    for (const Address& dep : Dependencies(Change{address, Action::kCreate, {}, nullptr, desired.spec})) {
      scope.insert(dep);
    }
  }
  // Reading one resource costs several round trips; reading everything costs a few list calls
  // plus one per domain. Past a handful of resources, everything is cheaper.
  constexpr std::size_t kMostReadOneByOne = 8;
  if (scope.size() > kMostReadOneByOne) return std::nullopt;
  return scope;
}

StatusOr<ObservedState> ObserveFor(const Document& doc, const PlanOptions& options, Provider& provider) {
  std::optional<std::set<Address>> scope = ObservationScope(doc, options);
  return scope ? provider.ObserveSome(*scope) : provider.ObserveAll();
}

std::vector<Address> Dependencies(const Change& change) {
  std::vector<Address> deps;
  const Json& d = change.desired;
  if (!d.is_object()) return deps;
  if (change.address.kind == Kind::kVolume) {
    deps.push_back({Kind::kPool, VolumePool(change.address.name)});
    if (d.contains("backing_volume")) deps.push_back({Kind::kVolume, d["backing_volume"]});
  }
  if (change.address.kind == Kind::kRbdImage && d.contains("clone_from")) {
    std::string parent = d["clone_from"];
    deps.push_back({Kind::kRbdImage, parent.substr(0, parent.find('@'))});
  }
  if (change.address.kind == Kind::kDomain) {
    for (const Json& disk : d.value("disks", Json::array())) {
      if (disk.contains("rbd")) {
        deps.push_back({Kind::kRbdImage, disk["rbd"]});
      } else {
        deps.push_back({Kind::kVolume, disk.value("volume", "")});
      }
    }
    for (const Json& nic : d.value("interfaces", Json::array())) {
      deps.push_back({Kind::kNetwork, nic.value("network", "")});
    }
  }
  return deps;
}

std::set<Address> FingerprintAddresses(const std::vector<Change>& changes) {
  std::set<Address> addresses;
  for (const Change& change : changes) {
    addresses.insert(change.address);
    for (const Address& dep : Dependencies(change)) addresses.insert(dep);
  }
  return addresses;
}

int StageOf(const Change& change) {
  const Kind kind = change.address.kind;
  const Json& d = change.desired;
  if (change.action == Action::kDelete) {
    // Clones and overlays are not known to be such from a delete alone (desired is null): all
    // images go in one stage, and CheckChildren refuses to delete a parent with clones left.
    switch (kind) {
      case Kind::kDomain: return 0;
      case Kind::kNetwork: return 1;
      case Kind::kVolume:
      case Kind::kRbdImage: return 2;
      case Kind::kPool: return 3;
    }
  }
  switch (kind) {
    case Kind::kPool: return 4;
    case Kind::kVolume: return d.is_object() && d.contains("backing_volume") ? 6 : 5;
    case Kind::kRbdImage: return d.is_object() && d.contains("clone_from") ? 6 : 5;
    case Kind::kNetwork: return 7;
    case Kind::kDomain: return 8;
  }
  return 9;
}

std::vector<Step> StepsFor(const Change& change, const PlanOptions& options,
                           const ObservedState& state, int shutdown_timeout_seconds) {
  const Address& address = change.address;
  const Json shutdown = {{"timeout_seconds", shutdown_timeout_seconds}};
  auto observed = state.resources.find(address);
  const bool running = observed != state.resources.end() && IsRunning(observed->second);
  std::vector<Step> steps;

  auto create = [&]() {
    steps.push_back({Step::Op::kCreate, address, change.desired});
    if (address.kind == Kind::kDomain) {
      if (change.desired.value("autostart", false)) {
        steps.push_back({Step::Op::kSetAutostart, address, {{"autostart", true}}});
      }
      if (change.desired.value("state", "running") == "running") {
        steps.push_back({Step::Op::kStart, address, Json::object()});
      }
    }
  };
  auto remove = [&]() {
    if (address.kind == Kind::kDomain && running) {
      steps.push_back({Step::Op::kShutdown, address, shutdown});
    }
    steps.push_back({Step::Op::kDelete, address, Json::object()});
  };

  switch (change.action) {
    case Action::kCreate: create(); break;
    case Action::kDelete: remove(); break;
    case Action::kReplace:
      remove();
      create();
      break;
    case Action::kUpdate: {
      bool hardware = false;
      bool restart_needed = false;
      std::optional<std::string> new_state;
      std::vector<const AttributeChange*> live_hardware;
      for (const AttributeChange& a : change.attributes) {
        if (a.path == "state") new_state = a.after.get<std::string>();
        if (a.path == "autostart") {
          steps.push_back({Step::Op::kSetAutostart, address, {{"autostart", a.after}}});
        }
        if (a.path == "capacity" || a.path == "size") {
          // A running QEMU holds the image open (and locked): it must grow it itself.
          auto users = RunningUsers(state, address);
          if (users.empty()) {
            steps.push_back({Step::Op::kResizeVolume, address,
                             {{"capacity", a.after},
                              {"allow_shrink", a.disruption == Disruption::kDestructive}}});
          }
          for (const auto& [domain, target] : users) {
            steps.push_back({Step::Op::kBlockResize, Address{Kind::kDomain, domain},
                             {{"target", target}, {"capacity", a.after}}});
          }
        }
        if (address.kind == Kind::kRbdImage && a.path == "features") {
          Json enable = Json::array();
          Json disable = Json::array();
          for (const Json& f : a.after) {
            if (std::find(a.before.begin(), a.before.end(), f) == a.before.end()) enable.push_back(f);
          }
          for (const Json& f : a.before) {
            if (std::find(a.after.begin(), a.after.end(), f) == a.after.end()) disable.push_back(f);
          }
          steps.push_back({Step::Op::kUpdateFeatures, address, {{"enable", enable}, {"disable", disable}}});
        }
        if (address.kind == Kind::kRbdImage && a.path == "snapshots") {
          Json missing = Json::array();
          for (const Json& name : a.after) {
            if (std::find(a.before.begin(), a.before.end(), name) == a.before.end()) missing.push_back(name);
          }
          steps.push_back({Step::Op::kCreateSnapshots, address, {{"snapshots", missing}}});
        }
        if (address.kind == Kind::kRbdImage && a.path == "flatten" && a.after == true) {
          steps.push_back({Step::Op::kFlatten, address, Json::object()});
        }
        if (address.kind == Kind::kDomain && IsDomainHardware(a.path)) {
          hardware = true;
          restart_needed = restart_needed || a.disruption == Disruption::kRestart;
          if (a.disruption == Disruption::kLive) live_hardware.push_back(&a);
        }
      }
      Json desired = change.desired;
      if (observed != state.resources.end()) desired = WithMacsForNewInterfaces(desired, observed->second);
      if (new_state == "stopped") steps.push_back({Step::Op::kShutdown, address, shutdown});
      if (hardware) steps.push_back({Step::Op::kWriteConfig, address, desired});
      if (restart_needed && RestartAllowed(options, change.desired)) {
        // The restart boots the new config; live steps would be redundant.
        steps.push_back({Step::Op::kShutdown, address, shutdown});
        steps.push_back({Step::Op::kStart, address, Json::object()});
      } else if (running && new_state != "stopped") {
        for (const AttributeChange* a : live_hardware) {
          for (Step& step : LiveSteps(address, *a, desired, observed->second)) steps.push_back(std::move(step));
        }
      }
      if (new_state == "running") steps.push_back({Step::Op::kStart, address, Json::object()});
      break;
    }
  }
  return steps;
}

std::string Step::Describe() const {
  switch (op) {
    case Op::kCreate: return "create " + address.ToString();
    case Op::kDelete: return "delete " + address.ToString();
    case Op::kWriteConfig: return "write persistent config of " + address.ToString();
    case Op::kStart: return "start " + address.ToString();
    case Op::kShutdown:
      return "shut down " + address.ToString() + " (forced after " +
             spec.value("timeout_seconds", Json(0)).dump() + " s)";
    case Op::kSetAutostart:
      return std::string(spec.value("autostart", false) ? "enable" : "disable") + " autostart of " +
             address.ToString();
    case Op::kResizeVolume:
      return "resize " + address.ToString() + " to " + spec.value("capacity", "");
    case Op::kBlockResize:
      return "tell " + address.ToString() + " that " + spec.value("target", "") + " is now " +
             spec.value("capacity", "");
    case Op::kUpdateFeatures:
      return "update features of " + address.ToString() + " (enable " + spec.value("enable", Json::array()).dump() +
             ", disable " + spec.value("disable", Json::array()).dump() + ")";
    case Op::kCreateSnapshots:
      return "create snapshots " + spec.value("snapshots", Json::array()).dump() + " of " + address.ToString();
    case Op::kFlatten: return "flatten " + address.ToString();
    case Op::kSetVcpusLive:
      return "hot-plug vCPUs of " + address.ToString() + " to " + spec.value("vcpus", Json(0)).dump();
    case Op::kSetMemoryLive:
      return "set the balloon of " + address.ToString() + " to " + spec.value("memory", "");
    case Op::kAttachMemoryLive:
      return "hot-add a " + spec.value("size", "") + " DIMM to " + address.ToString();
    case Op::kAttachDiskLive:
      return "attach " + (spec.contains("rbd") ? "RBD image " + spec.value("rbd", "") : spec.value("volume", "")) +
             " as " + spec.value("target", "") + " to " + address.ToString();
    case Op::kDetachDiskLive:
      return "detach " + spec.value("target", "") + " from " + address.ToString();
    case Op::kAttachInterfaceLive:
      return "attach a NIC on " + spec.value("network", "") + " (" + spec.value("mac", "") + ") to " +
             address.ToString();
    case Op::kDetachInterfaceLive:
      return "detach NIC " + spec.value("mac", "") + " from " + address.ToString();
  }
  return "?";
}

}  // namespace vc
