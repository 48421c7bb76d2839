// Computing a plan: the differences between the declared and the observed state, each classified
// by how it can be applied, in the order apply must follow.
#pragma once

#include <set>
#include <vector>

#include "engine/plan.h"
#include "engine/provider.h"

namespace vc {

/// The resources a plan of `doc` needs observed, or nullopt when it needs the whole host: with
/// prune, or when `doc` declares volumes, RBD images or deletes pools (any domain may use them,
/// any volume may sit in them), or more than a handful of resources (reading all is then cheaper).
/// Otherwise the declared resources and what they refer to.
std::optional<std::set<Address>> ObservationScope(const Document& doc, const PlanOptions& options);

/// Observes what ObservationScope asks for.
StatusOr<ObservedState> ObserveFor(const Document& doc, const PlanOptions& options, Provider& provider);

/// Plans `doc` against `observed`. Never fails: problems (a missing reference, a destructive
/// change without allow_destroy) become diagnostics and make the plan not applyable.
Plan ComputePlan(const Document& doc, const ObservedState& observed, const PlanOptions& options);

/// The attribute differences of one resource: only fields `desired` declares are compared, and
/// within lists of objects only the declared sub-fields. Disruption is not yet classified.
std::vector<AttributeChange> DiffAttributes(const Json& desired, const Json& observed);

/// The differences between a declared resource of `kind` and its observed spec, compared as the
/// kind requires: declared fields only; a domain's policy fields never; an RBD image's declared
/// snapshots must exist (others may), and with `flatten: true` the clone source no longer counts.
std::vector<AttributeChange> DiffResource(Kind kind, const Json& desired, const Json& observed);

/// `observed` cut down to the shape of `desired` (the declared fields, recursively).
Json Project(const Json& observed, const Json& desired);

/// The steps that carry out `change`, in order. `observed` is the resource as planned against
/// (null for a create); `state` is the whole observed state, for cross-resource effects such as
/// the running domains that use a volume being grown.
std::vector<Step> StepsFor(const Change& change, const PlanOptions& options,
                           const ObservedState& state, int shutdown_timeout_seconds);

/// What a change needs to exist first: a volume's pool and backing volume, a domain's volumes
/// and networks.
std::vector<Address> Dependencies(const Change& change);

/// The addresses a plan's fingerprint covers: every changed resource and what it depends on.
std::set<Address> FingerprintAddresses(const std::vector<Change>& changes);

/// The order changes are applied in: deletions (domains, networks, volumes, pools), then the rest
/// (pools, volumes, volumes with a backing volume, networks, domains). Lower stages go first;
/// changes in the same stage are independent.
int StageOf(const Change& change);

}  // namespace vc
