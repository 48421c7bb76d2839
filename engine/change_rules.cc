#include "engine/change_rules.h"

#include "engine/field_table.h"
#include "engine/size.h"

namespace vc {
bool IsRunning(const ObservedResource& r) { return r.spec.value("state", "") == "running"; }

bool RestartAllowed(const PlanOptions& options, const Json& desired) {
  return options.allow_restart ||
         (desired.is_object() && desired.value("restart", "pending") == "allowed");
}

bool ForcesReplace(Kind kind, const std::string& path) {
  return HasChangeClass(kind, path, ChangeClass::kReplace);
}

// How a changed attribute reaches the host, by its field's x-change in the schema; the reason
// is the field's x-reason where the class alone does not say it.
void Classify(const DesiredResource& desired, const ObservedResource& observed, AttributeChange* a,
              bool* replace) {
  const Kind kind = desired.address.kind;
  const FieldSpec* field = FindField(kind, a->path);
  const ChangeClass change = field == nullptr ? ChangeClass::kNone : field->change;
  a->reason = field == nullptr ? "" : field->reason;
  switch (change) {
    case ChangeClass::kReplace:
      *replace = true;
      a->disruption = Disruption::kDestructive;
      a->reason = kind == Kind::kVolume
                      ? "the volume is deleted and created again: its data is lost"
                      : std::string("the ") + std::string(KindName(kind)) +
                            " is undefined and defined again";
      return;
    case ChangeClass::kResize:
      if (SizeBytes(a->after) < SizeBytes(a->before)) {
        a->disruption = Disruption::kDestructive;
        a->reason = "shrink: data beyond the new end is lost";
      } else {
        a->disruption = Disruption::kLive;
        a->reason = "grow";
      }
      return;
    case ChangeClass::kState:
      a->disruption = Disruption::kLive;
      a->reason =
          a->after == "running" ? "start" : "graceful shutdown (ACPI), forced after the timeout";
      return;
    case ChangeClass::kRestart:
      // Reached only when the domain does not keep running: the running case is planned by
      // PlanRunningHardware, live where a rule allows.
      a->disruption = Disruption::kNone;
      a->reason = IsRunning(observed) ? "the domain is being shut down: applied to its config"
                                      : "the domain is not running: applied to its config";
      return;
    case ChangeClass::kLive:
      a->disruption = Disruption::kLive;
      return;
    case ChangeClass::kNone:
    case ChangeClass::kPolicy:
    case ChangeClass::kPlacement:
      a->disruption = Disruption::kNone;
      return;
  }
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
    case Kind::kDomain: {
      a.disruption = IsRunning(observed) ? Disruption::kRestart : Disruption::kNone;
      a.reason = IsRunning(observed)
                     ? "the running guest is shut down, then undefined; its volumes are kept"
                     : "undefined; its volumes are kept";
      // Its snapshots go with it: merged into its disks first, so the volumes it keeps hold
      // the guest's latest writes (engine/domain_snapshots.h).
      const Json snapshots = observed.spec.value("snapshots", Json::array());
      if (!snapshots.empty()) {
        std::string names;
        for (const Json& n : snapshots) names += (names.empty() ? "" : ", ") + n.get<std::string>();
        a.disruption = Disruption::kDestructive;
        a.reason += "; its snapshots (" + names + ") are merged into its disks and deleted";
      }
      break;
    }
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
    case Kind::kHost:
      a.reason = "a host's settings are never deleted";  // never planned: hosts carry no mark
      break;
  }
  change.attributes.push_back(a);
  return change;
}

}  // namespace vc
