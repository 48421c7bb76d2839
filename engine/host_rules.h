// A fleet host's own settings (its `hosts:` entry's ksm) as a change: one attribute per KSM
// setting that differs ("ksm.pages_to_scan"), each made live, and the one step that sets them.
// What the host cannot take from here (KSM's run switch on another machine) is refused at plan
// time, naming the host.
#pragma once

#include "engine/plan.h"

namespace vc {

/// The change that brings host `actual` to `desired` (attributes empty when nothing differs).
/// Refusals are added to `diags`.
Change HostSettingsChange(const DesiredResource& desired, const ObservedResource& actual,
                          Diagnostics* diags);

/// The set_ksm step of a host change.
std::vector<Step> HostSettingsSteps(const Change& change);

}  // namespace vc
