// Computing a plan: the differences between the declared and the observed state, each classified
// by how it can be applied, with the exact steps apply will run, in the order apply must follow.
#pragma once

#include "engine/plan.h"
#include "engine/provider.h"

namespace vc {

/// Observes what a plan of `doc` needs (ObservationScope): some resources, or the whole host.
StatusOr<ObservedState> ObserveFor(const Document& doc, const PlanOptions& options,
                                   Provider& provider);

/// Plans `doc` against `observed`. Never fails: problems (a missing reference, a destructive
/// change without allow_destroy) become diagnostics and make the plan not applyable.
/// Deterministic: the same document, options and observation give the same plan, steps and
/// chosen MACs included (apply --plan relies on it).
Plan ComputePlan(const Document& doc, const ObservedState& observed, const PlanOptions& options);

}  // namespace vc
