// A domain's disk snapshots on libvirt: external qcow2 overlays for its volume disks, recorded
// in the domain's own metadata. libvirt 9.0 can take external snapshots but neither delete nor
// revert them, and its own snapshot metadata would then block undefining the domain; so the
// overlays are taken without libvirt metadata (VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA) and the
// record lives here:
//
//   <metadata><vcsnap:snapshots xmlns:vcsnap="https://virtconverge.dev/xmlns/snapshots/1">
//     <snapshot name="s1" consistency="pause" created="2026-12-07T12:00:00Z">
//       <disk target="vda" overlay="/pool/root@s1" backing="/pool/root" format="qcow2"/>
//       <disk target="vdb" rbd="rbd/data"/>  (the Ceph backend took vcsnap-s1 of it)
//     </snapshot> ...
//
// in the order they were taken. The overlay of snapshot S holds what the guest wrote after S, up
// to the next snapshot; deleting S merges it into the layer below, reverting to S discards it.
#pragma once

#include <libvirt/libvirt.h>

#include <chrono>
#include <pugixml.hpp>
#include <string>
#include <vector>

#include "engine/status.h"
#include "engine/step.h"

namespace vc::libvirt {

inline constexpr const char* kSnapshotNamespace = "https://virtconverge.dev/xmlns/snapshots/1";

/// The names of the snapshots `domain` (a <domain> element) records, in the order taken.
std::vector<std::string> RecordedSnapshots(const pugi::xml_node& domain);

/// How long the guest agent may take to freeze, or to thaw, the guest's file systems. libvirt
/// waits for an agent forever by default: a hung agent or fsfreeze hook would hang the apply.
inline constexpr std::chrono::seconds kGuestAgentTimeout{30};

/// freeze / thaw: the guest agent freezes (thaws) the file systems, or the guest is paused
/// (resumed), as args.consistency says. The agent has kGuestAgentTimeout for each; a freeze it
/// does not finish in time fails, and the agent is then asked to thaw (it may freeze late).
Status FreezeDomain(virDomainPtr domain, const Step& step);
Status ThawDomain(virDomainPtr domain, const Step& step);

/// snapshot_domain, the libvirt half: the overlays of the volume disks, atomically, and the
/// record. The guest is already frozen or paused (CompositeProvider); RBD snapshots are taken.
Status TakeSnapshot(virConnectPtr conn, virDomainPtr domain, const Step& step);

/// delete_domain_snapshot: each overlay merged into its backing (a block commit while the domain
/// runs, qemu-img commit and rebase when it is stopped), the overlay file removed, the record
/// dropped. `local`: the host's files are this machine's (needed when the domain is stopped).
Status DeleteSnapshot(virDomainPtr domain, const Step& step, bool local);

/// revert_domain_snapshot (domain stopped, on this machine): every volume disk gets a fresh
/// empty overlay over the snapshot's backing, the overlays of the snapshot and of later ones are
/// removed, later snapshots' records dropped.
Status RevertSnapshot(virDomainPtr domain, const Step& step, bool local);

}  // namespace vc::libvirt
