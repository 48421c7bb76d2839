// A domain's declared disk snapshots (`snapshots: [name, ...]`): how the host's list compares with
// the document's, how a snapshot will be made consistent (the guest agent freezes the file
// systems, the guest is paused for the moment it takes, or the domain is stopped), and the steps
// that take and delete them. The names are a set: a listed one missing is taken, one the host
// has that is not listed is deleted (destructive: its point in time is lost).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/plan.h"

namespace vc {

/// The host's snapshot names as compared with `declared`: in the declared order when both hold
/// the same names, else as the host holds them. A domain without any is [].
Json SnapshotsAsCompared(const Json& declared, const Json& observed_spec);

/// Whether the domain runs once this plan's other steps are done: its declared state, else as it
/// is (a create starts unless declared stopped).
bool RunsAfterPlan(const Json& desired_spec, const ObservedResource* observed);

/// How a snapshot taken by this plan is made consistent: "quiesce" (the domain runs and its
/// guest agent is connected: file systems frozen), "pause" (it runs without an agent, or starts
/// in this plan: paused for the moment the snapshot takes), "stopped".
std::string SnapshotConsistency(const ObservedResource* observed, bool running_after,
                                bool restarted);

/// Disruption and reason of a domain's `snapshots` change.
void ClassifySnapshots(const std::string& consistency, AttributeChange* a);

/// Classifies the `snapshots` change among a domain's `attributes`, if any. `restart_allowed`:
/// whether this run may restart it (then a restart change boots it again before the snapshot).
void ClassifyDomainSnapshots(const Json& desired_spec, const ObservedResource& observed,
                             bool restart_allowed, std::vector<AttributeChange>* attributes);

/// The domain's disks a snapshot covers, as snapshot_domain lists them: [{"target", "volume"}
/// | {"target", "rbd"}], from the declared disks (else the observed ones).
Json SnapshotDisks(const Json& desired_spec, const ObservedResource* observed);

/// delete_domain_snapshot for each name `a` removes, then snapshot_domain for each it adds.
std::vector<Step> SnapshotSteps(const Address& domain, const AttributeChange& a, const Json& disks,
                                const std::string& consistency);

/// Why the domain's snapshots must not be acted on (taken, deleted, merged, reverted to): its
/// snapshot record, as observe found it (fact snapshot_record_error), is not what virtconverge
/// writes. The text says what is wrong and how to clear the record; nullopt when it is sound.
std::optional<std::string> BadSnapshotRecord(const ObservedResource& observed);

}  // namespace vc
