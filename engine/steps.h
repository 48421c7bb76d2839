// Choosing the steps of a change at plan time: the exact operations, with every argument decided
// (sizes in bytes, MAC addresses, DIMM sizes, snapshots to protect), that apply will run.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "engine/plan.h"

namespace vc {

/// The steps that carry out `change`, in order. `state` is the observed state the plan was made
/// against: the resource itself, the running domains that use a volume being grown, an RBD
/// parent's protected snapshots. `taken_macs` holds every MAC on the host and those chosen
/// earlier in the plan; MACs chosen here are added.
std::vector<Step> StepsFor(const Change& change, const PlanOptions& options,
                           const ObservedState& state, std::set<std::string>* taken_macs);

}  // namespace vc
