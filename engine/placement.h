// Where each resource of a fleet (a document with `hosts:`) is: the document as the planner
// plans it, every address carrying its host. Pools and networks are on every host unless they
// list theirs; RBD images are the cluster's; a volume is on the host it names, else on the host
// of the domain that uses it, else on its pool's only host; a domain is on its `host:` (or the
// fleet's only host), or on one of its `hosts:` (where it is, else the one the planner picks),
// or, when its host is in maintenance and the domain runs there, on the host the drain picks.
// A host whose entry declares ksm has its settings planned as the resource host.<name>.
#pragma once

#include <string>
#include <vector>

#include "engine/diagnostic.h"
#include "engine/resource.h"

namespace vc {

/// Checks a document's placement fields without a host: `host:`/`hosts:` only in a fleet, every
/// domain of a fleet has a host, every host named is declared, no `connection:` beside `hosts:`.
/// LoadDocuments and the saved-plan decoder run it.
Diagnostics CheckPlacement(const Document& doc);

/// A domain the planner may move: from the host it is observed on to another, with the CPU
/// check that must pass first (ObservedState::cpu_checks, keyed by CpuCheckKey).
struct MoveCandidate {
  Address domain;  // where it is now (address.host: the source)
  std::string to;
};

/// "<domain>@<from>><to>".
std::string CpuCheckKey(const Address& domain, const std::string& to);

/// The moves a plan of `doc` against `observed` may make: a declared domain observed on another
/// host than its own, and each running domain of a host in maintenance to each other host.
/// Empty for one host. The fleet backend checks each one's CPU before planning.
std::vector<MoveCandidate> MoveCandidates(const Document& doc, const ObservedState& observed);

/// The placed document: for one host, `doc` itself; for a fleet, each declared resource on each
/// host it is placed on (placement fields taken out of the spec), without the hosts skipped as
/// unreachable. Problems (an unknown host, a volume whose host cannot be told, a domain with
/// nowhere to go in a drain, a domain defined on two hosts) are added to `diags`.
/// A host chosen for a domain (a drain, or a domain listing hosts:) keeps its capacity limits
/// (engine/capacity.h), the one with the most headroom left first; with `allow_overcommit` the
/// limits do not rule a host out.
Document PlaceOnHosts(const Document& doc, const ObservedState& observed, bool allow_overcommit,
                      Diagnostics* diags);

}  // namespace vc
