// Refusals that need the whole plan and the host: what apply could not do, or must not do without
// an allow flag, found at plan time so that apply never starts what it cannot finish.
#pragma once

#include <set>

#include "engine/plan.h"

namespace vc {

/// Adds an error diagnostic to `plan` for each change that cannot or may not be applied:
/// deleting what a remaining resource uses (an RBD parent of a clone, a domain's disk),
/// shrinking a disk under a running guest, creating a network of a mode this version cannot
/// make, domain memory not above the DIMMs in its config, destructive changes without
/// allow_destroy. `deleted` holds the addresses the plan deletes.
void CheckPlan(const ObservedState& observed, const std::set<Address>& deleted, Plan* plan);

}  // namespace vc
