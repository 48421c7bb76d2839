// Per kind, what a change of each attribute means: whether it forces the resource to be replaced,
// how disruptive it is and why, and what creating or deleting a resource does to what runs.
#pragma once

#include "engine/plan.h"

namespace vc {

/// Whether a change of `path` means the resource is destroyed and created again.
bool ForcesReplace(Kind kind, const std::string& path);

/// Sets the disruption and reason of `a`, a differing attribute of `desired` against `observed`;
/// sets *replace when the attribute forces a replace. Running domains' hardware is classified by
/// PlanRunningHardware instead.
void Classify(const DesiredResource& desired, const ObservedResource& observed, AttributeChange* a,
              bool* replace);

/// The change that creates `desired` (steps not yet chosen).
Change CreateChange(const DesiredResource& desired);

/// The change that deletes `observed`, classified with what else `state` holds (a pool's volumes).
Change DeleteChange(const ObservedResource& observed, const ObservedState& state);

bool IsRunning(const ObservedResource& r);

/// Whether `desired` (a declared domain) may be restarted by this run.
bool RestartAllowed(const PlanOptions& options, const Json& desired);

}  // namespace vc
