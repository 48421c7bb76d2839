// A host's own figures and settings through libvirt's node APIs: its CPUs and memory
// (virNodeGetInfo, virNodeGetFreeMemory) and kernel samepage merging (virNode{Get,Set}
// MemoryParameters). KSM's run switch has no libvirt parameter: it is read and written in
// /sys/kernel/mm/ksm/run, which only works for a host on this machine (IsThisMachine).
#pragma once

#include <libvirt/libvirt.h>

#include <string>

#include "engine/resource.h"
#include "engine/status.h"

namespace vc::libvirt {

/// Where KSM's sysfs files are; a test may point it elsewhere.
inline constexpr const char* kKsmSysfs = "/sys/kernel/mm/ksm";

/// True when `uri` reaches a libvirtd on this machine: no host part, or a loopback address
/// (localhost, 127.0.0.0/8, ::1), over no transport, unix, tcp or tls (not ssh or ext, which may
/// lead elsewhere from loopback too). Then this process shares that host's kernel and its sysfs.
bool IsThisMachine(const std::string& uri);

/// The host resource (address {kHost, "", ""}): spec {"ksm": {pages_to_scan, sleep_millisecs,
/// merge_across_nodes, and enabled when this machine's run switch is readable}}, facts {"cpus",
/// "memory", "free_memory" (bytes), "ksm_run_switch" ("local" or why not), "ksm": {
/// "pages_shared", "pages_sharing", "pages_unshared", "full_scans", "page_size",
/// "shared_bytes", "saved_bytes"}}. A driver without node memory parameters (the test driver)
/// gives no ksm at all.
StatusOr<ObservedResource> ReadNode(virConnectPtr conn, const std::string& uri);

/// Sets the declared KSM settings `settings` ({"enabled"?, "pages_to_scan"?,
/// "sleep_millisecs"?, "merge_across_nodes"?}). merge_across_nodes while pages are merged needs
/// them unmerged first (run = 2, waited for), then the run switch back: only on this machine.
Status SetKsm(virConnectPtr conn, const std::string& uri, const Json& settings);

}  // namespace vc::libvirt
