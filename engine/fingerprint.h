// A short hash of observed state, so `apply --plan` can tell that the world moved since the plan.
#pragma once

#include <set>
#include <string>

#include "engine/resource.h"

namespace vc {

/// "fnv1a64:<16 hex digits>" over the observed spec and live values of each address in
/// `addresses` (an address not observed counts as absent). Stable across runs and machines.
std::string Fingerprint(const ObservedState& state, const std::set<Address>& addresses);

}  // namespace vc
