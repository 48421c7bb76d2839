// How each declared domain attribute can change on a running guest: live (and by which QEMU
// operation), or only at the next boot. The planner classifies with these rules and StepsFor turns
// a live attribute change into the provider steps that carry it out.
#pragma once

#include <string>
#include <vector>

#include "engine/plan.h"
#include "engine/provider.h"

namespace vc {

/// The DIMM size used for memory hot-add when a domain declares no memory_hotplug_unit.
inline constexpr std::uint64_t kDefaultMemoryHotplugUnit = std::uint64_t{128} << 20;

/// Domain fields that describe virtual hardware.
bool IsDomainHardware(const std::string& field);

/// Fields that say how to manage a domain (restart, memory_hotplug_unit), not what it is: never
/// observed, never compared.
bool IsPolicyField(const std::string& field);

/// Hardware fields whose live value is compared with the declared one. The others (cpu,
/// virt_type) read differently in the live definition and are compared in the config only.
bool HasComparableLiveValue(const std::string& field);

struct LiveVerdict {
  bool live = false;   // can be applied to the running guest
  std::string reason;  // "hot-plug", "+512MiB DIMM", or why it needs a restart
};

/// Whether changing `field` of running domain `observed` from its live value to `want` (within
/// `desired`, the whole declared domain) can be done live.
LiveVerdict ClassifyLive(const std::string& field, const Json& want, const Json& desired,
                         const ObservedResource& observed);

/// The live steps for one attribute change judged live by ClassifyLive. New interfaces without
/// a declared MAC get one here (`mac_for_new`), so the persistent config can use the same.
std::vector<Step> LiveSteps(const Address& address, const AttributeChange& change,
                            const Json& desired, const ObservedResource& observed);

/// `desired` with a MAC filled in for each declared interface that LiveSteps attaches without
/// one: the persistent config and the running guest must agree on it.
Json WithMacsForNewInterfaces(const Json& desired, const ObservedResource& observed);

}  // namespace vc
