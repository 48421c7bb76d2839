#include "engine/host_rules.h"

namespace vc {

Change HostSettingsChange(const DesiredResource& desired, const ObservedResource& actual,
                          Diagnostics* diags) {
  const Json want = desired.spec.value("ksm", Json::object());
  const Json have = actual.spec.value("ksm", Json::object());
  Change change{desired.address, Action::kUpdate, {}, Json::object(), desired.spec, {}};
  change.before["ksm"] = Json::object();
  for (const auto& [key, value] : want.items())
    change.before["ksm"][key] = have.contains(key) ? have[key] : Json(nullptr);
  if (!actual.spec.contains("ksm")) {
    diags->push_back(ErrorDiagnostic(
        ErrorCode::kUnsupported, desired.address.ToString(),
        "hosts." + desired.address.name +
            ".ksm: this host's libvirt driver has no node memory parameters (KSM)"));
    return change;
  }
  const std::string run_switch = actual.facts.value("ksm_run_switch", "");
  for (const auto& [key, value] : want.items()) {
    const Json before = have.contains(key) ? have[key] : Json(nullptr);
    if (before == value) continue;
    AttributeChange a{"ksm." + key, before, value, Disruption::kLive, ""};
    if (key == "enabled") {
      a.reason =
          "KSM's run switch, written to /sys/kernel/mm/ksm/run (libvirt has no parameter "
          "for it)";
      if (run_switch != "local") {
        diags->push_back(ErrorDiagnostic(
            ErrorCode::kUnsupported, desired.address.ToString(),
            "hosts." + desired.address.name + ".ksm.enabled: cannot be converged from here: " +
                run_switch + " (set it on the host, or leave enabled out)"));
      }
    } else if (key == "merge_across_nodes") {
      a.reason = run_switch == "local"
                     ? "through libvirt's node memory parameters; pages merged when it is applied "
                       "are unmerged first (run = 2) and the run switch restored after"
                     : "through libvirt's node memory parameters; the kernel refuses it while "
                       "pages are merged, and the run switch that unmerges them is not "
                       "reachable from here";
    } else {
      a.reason = "through libvirt's node memory parameters (shm_" + key + ")";
    }
    change.attributes.push_back(std::move(a));
  }
  return change;
}

std::vector<Step> HostSettingsSteps(const Change& change) {
  Json settings = Json::object();
  for (const AttributeChange& a : change.attributes) {
    if (a.path.rfind("ksm.", 0) == 0) settings[a.path.substr(4)] = a.after;
  }
  if (settings.empty()) return {};
  return {Step{Step::Op::kSetKsm, change.address, {{"settings", settings}}}};
}

}  // namespace vc
