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

/// One disk of a recorded snapshot: a volume's overlay and the file below it, or an RBD image.
struct SnapshotLayer {
  std::string target;
  std::string overlay;  // volume disks: the snapshot's overlay file
  std::string backing;  // ... and the file below it
  std::string format;   // ... the backing's format
  std::string rbd;      // RBD disks: <pool>/<image>
};

struct SnapshotRecord {
  std::string name;
  std::string consistency;
  std::string created;
  std::vector<SnapshotLayer> disks;
};

/// The records under `root` (the snapshots element), in the order taken, checked: deleting or
/// reverting a snapshot merges and removes files on the record's word, so it must be what
/// virtconverge writes. A name a document can hold; a target; a volume layer's backing an absolute
/// path of format qcow2 or raw and its overlay exactly <backing without @suffix>@<name>; an RBD
/// layer <pool>/<image>. InvalidArgument naming the snapshot and disk otherwise.
StatusOr<std::vector<SnapshotRecord>> ParseSnapshotRecords(const pugi::xml_node& root);

/// The names of the snapshots `domain` (a <domain> element) records, in the order taken; the
/// error of ParseSnapshotRecords when the record is not one virtconverge wrote.
StatusOr<std::vector<std::string>> RecordedSnapshots(const pugi::xml_node& domain);

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
