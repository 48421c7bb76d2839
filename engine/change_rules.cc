#include "engine/change_rules.h"

#include "engine/domain_rules.h"
#include "engine/size.h"

namespace vc {
bool IsRunning(const ObservedResource& r) { return r.spec.value("state", "") == "running"; }

bool RestartAllowed(const PlanOptions& options, const Json& desired) {
  return options.allow_restart ||
         (desired.is_object() && desired.value("restart", "pending") == "allowed");
}

bool ForcesReplace(Kind kind, const std::string& path) {
  switch (kind) {
    case Kind::kPool:
      return path == "type" || path == "path" || path == "volume_group" || path == "ceph_pool";
    case Kind::kNetwork:
      return path == "mode" || path == "bridge";
    case Kind::kVolume:
      return path == "format" || path == "backing_volume";
    case Kind::kRbdImage:
      return path == "clone_from";
    case Kind::kDomain:
      return false;
  }
  return false;
}

void Classify(const DesiredResource& desired, const ObservedResource& observed, AttributeChange* a,
              bool* replace) {
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
  if ((kind == Kind::kVolume && a->path == "capacity") ||
      (kind == Kind::kRbdImage && a->path == "size")) {
    if (SizeBytes(a->after) < SizeBytes(a->before)) {
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
    a->reason =
        a->after == "running" ? "start" : "graceful shutdown (ACPI), forced after the timeout";
    return;
  }
  if (kind == Kind::kDomain && IsDomainHardware(a->path)) {
    a->disruption = Disruption::kNone;
    a->reason = IsRunning(observed) ? "the domain is being shut down: applied to its config"
                                    : "the domain is not running: applied to its config";
    return;
  }
  a->disruption = Disruption::kNone;
}

Change CreateChange(const DesiredResource& desired) {
  Change change{desired.address, Action::kCreate, {}, nullptr, desired.spec, {}};
  for (const auto& [key, value] : desired.spec.items()) {
    change.attributes.push_back({key, nullptr, value, Disruption::kNone, ""});
  }
  if (desired.address.kind == Kind::kDomain &&
      desired.spec.value("state", "running") == "running") {
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
  Change change{observed.address, Action::kDelete, {}, observed.spec, nullptr, {}};
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
      a.reason = IsRunning(observed)
                     ? "the running guest is shut down, then undefined; its volumes are kept"
                     : "undefined; its volumes are kept";
      break;
    case Kind::kPool: {
      int volumes = 0;
      const std::string prefix = observed.address.name + "/";
      for (const auto& [address, r] : state.resources) {
        volumes += address.kind == Kind::kVolume && address.name.rfind(prefix, 0) == 0;
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

}  // namespace vc
