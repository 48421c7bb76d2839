// How each declared domain attribute can change on a running guest: live (and by which QEMU
// operation), or only at the next boot; and what makes a disk or a NIC the same device. The
// planner classifies with these rules and turns a live attribute change into the steps that
// carry it out; the libvirt provider pairs devices with the same SameDisk/SameNic.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "engine/plan.h"
#include "engine/provider.h"

namespace vc {

/// The DIMM size used for memory hot-add when a domain declares no memory_hotplug_unit.
inline constexpr std::uint64_t kDefaultMemoryHotplugUnit = std::uint64_t{128} << 20;

/// Domain fields that describe virtual hardware: x-change restart in the schema.
bool IsDomainHardware(const std::string& field);

/// Hardware fields whose live value is compared with the declared one (x-compared-with:
/// running). The others (cpu, virt_type) read differently in the live definition and are
/// compared in the config only.
bool HasComparableLiveValue(const std::string& field);

/// Device identity, the one definition: a declared disk `want` is the observed disk `have` when
/// both name the same volume or RBD image at the same target and every sub-field `want` declares
/// (bus, discard) is equal. A declared NIC is an observed one on the same network with the same
/// MAC and model where declared.
bool SameDisk(const Json& want, const Json& have);
bool SameNic(const Json& want, const Json& have);

struct LiveVerdict {
  bool live = false;              // can be applied to the running guest
  std::string reason;             // "hot-plug", "+512MiB DIMM", or why it needs a restart
  bool guest_holds_back = false;  // not live because the guest cannot follow (its balloon driver)
};

/// Whether changing `field` of running domain `observed` from its live value to `want` (within
/// `desired`, the whole declared domain) can be done live.
LiveVerdict ClassifyLive(const std::string& field, const Json& want, const Json& desired,
                         const ObservedResource& observed);

/// The hardware attributes of a domain that is running and stays running: each compared with
/// what the guest has now (live) and with its persistent config, classified live or restart, or
/// recorded as pending when only the next boot is missing.
void PlanRunningHardware(const DesiredResource& desired, const ObservedResource& actual,
                         bool restart_allowed, Change* change, std::vector<Pending>* pending);

/// The live steps for one attribute change judged live by ClassifyLive. `desired` is the
/// declared domain with every interface's MAC chosen (WithChosenMacs).
std::vector<Step> LiveSteps(const Address& address, const AttributeChange& change,
                            const Json& desired, const ObservedResource& observed);

/// `desired` with a MAC on every declared interface, so the plan, the persistent config and the
/// running guest agree on it: an interface the domain has already keeps its MAC (the running
/// guest's, or the config's at the same position on the same network); a new one gets a MAC
/// derived from the domain name, position and network, unique among `taken` (every MAC on the
/// host and those chosen earlier in the plan, to which it is added). `observed` is null for a
/// domain that does not exist yet. Deterministic: the same inputs give the same MACs.
Json WithChosenMacs(const Json& desired, const std::string& domain,
                    const ObservedResource* observed, std::set<std::string>* taken);

/// Every MAC address the observed domains have, in their config or running.
std::set<std::string> ObservedMacs(const ObservedState& state);

}  // namespace vc
