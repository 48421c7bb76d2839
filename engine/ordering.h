// What depends on what: the order apply follows, what a plan must observe, and what its
// fingerprint covers.
#pragma once

#include <optional>
#include <set>
#include <vector>

#include "engine/plan.h"

namespace vc {

/// What a change needs to exist first: a volume's pool and backing volume, a clone's parent,
/// a domain's volumes, RBD images and networks.
std::vector<Address> Dependencies(const Change& change);

/// The addresses a plan's fingerprint covers: every changed resource and what it depends on.
std::set<Address> FingerprintAddresses(const std::vector<Change>& changes);

/// The order changes are applied in: deletions (domains, networks, volumes, pools), then the rest
/// (pools, volumes, volumes with a backing volume, networks, domains). Lower stages go first;
/// changes in the same stage are independent.
int StageOf(const Change& change);

/// The resources a plan of `doc` needs observed, or nullopt when it needs the whole host: with
/// prune, or when `doc` declares volumes, RBD images or deletes pools (any domain may use them,
/// any volume may sit in them), or more than a handful of resources (reading all is then cheaper).
/// Otherwise the declared resources and what they refer to.
std::optional<std::set<Address>> ObservationScope(const Document& doc, const PlanOptions& options);

}  // namespace vc
