// Network XML <-> the engine's network fields.
#pragma once

#include <string>
#include <string_view>

#include "engine/resource.h"
#include "engine/status.h"

namespace vc::libvirt {

/// Network fields: mode (isolated when there is no <forward>), bridge. Sets *managed when the
/// <metadata> carries virtconverge's mark.
StatusOr<Json> ReadNetworkXml(std::string_view xml, bool* managed);

/// XML for a new isolated network: a bridge with no forwarding, no IP address and DNS off, so
/// libvirt starts no dnsmasq and adds no firewall rules. Carries the ownership mark.
StatusOr<std::string> NewNetworkXml(const std::string& name, const Json& desired);

}  // namespace vc::libvirt
