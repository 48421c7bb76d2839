// Observed state written back as a desired-state document: the import path. Planning the output
// against the same host shows no changes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/plan.h"
#include "engine/resource.h"

namespace vc {

/// The document (version 1) describing everything in `state`, as JSON. `ceph` (the ceph:
/// section used to observe RBD images, or null) is written back so the document plans as-is.
Json ExportDocument(const ObservedState& state, const Json& ceph = nullptr);

/// A fleet's document: `hosts` (name → connection) as its hosts: section, each domain with its
/// host:, each pool and network once (with hosts: when it is not on every host; when hosts hold
/// different definitions of one name, the first host's, and a note in `notes`), each volume with
/// the host: it is on (on several hosts: the first one's, noted), RBD images once, each host's
/// KSM settings on its entry, and per host a note of its CPUs, memory, free memory and what KSM
/// saves (HostNote). Planning it against the same hosts shows no changes.
/// "host hv-a: 2 CPUs, 23GiB of memory, 21GiB free; KSM saves 12MiB (3072 guest pages merged
/// into 200 shared pages, 800KiB)", from a host resource's facts.
std::string HostNote(const std::string& name, const Json& facts);

Json ExportFleetDocument(const ObservedState& state,
                         const std::map<std::string, std::string>& hosts, const Json& ceph,
                         std::vector<std::string>* notes);

/// One line per resource left out of the exported documents because a document cannot name it
/// (libvirt allows names the document format does not): "volume 'p/my disk' left out: ...".
std::vector<std::string> UndeclarableNotes(const ObservedState& state);

/// The values of running domains that differ from their persistent config (changes waiting for
/// the next boot).
std::vector<Pending> PendingChanges(const ObservedState& state);

/// One line per value of a running domain that differs from its persistent config (a change
/// waiting for the next boot): "web1: vcpus pending restart (running 1, next boot 2)".
std::vector<std::string> PendingNotes(const ObservedState& state);

/// The same document as YAML, sections in the order a person would write them, with `notes` as
/// comments at the top.
std::string ToYaml(const Json& document, const std::vector<std::string>& notes = {});

}  // namespace vc
