// Resource kinds and addresses: `domain.web1`, `volume.images/web1-root`, and in a fleet (a
// document with `hosts:`) the host a resource is on: `domain.web1@hv-a`. A host's own settings
// (KSM) are the resource `host.hv-a`, on itself.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace vc {

/// Declared in dependency order: a kind may depend only on kinds before it. kHost is a fleet
/// host's settings, declared on its `hosts:` entry (not a section of resources), changed first.
enum class Kind { kHost, kPool, kVolume, kRbdImage, kNetwork, kDomain };

/// The kinds a document declares in sections of their own (every kind but kHost).
inline constexpr Kind kAllKinds[] = {Kind::kPool, Kind::kVolume, Kind::kRbdImage, Kind::kNetwork,
                                     Kind::kDomain};

/// "host", "pool", "volume", "rbd_image", "network", "domain".
std::string_view KindName(Kind kind);
/// The document section: "hosts", "pools", "volumes", "rbd_images", "networks", "domains".
std::string_view KindSection(Kind kind);
std::optional<Kind> KindFromName(std::string_view name);

struct Address {
  Kind kind;
  std::string name;       // for volumes "<pool>/<volume>", for RBD images "<ceph pool>/<image>"
  std::string host = "";  // in a fleet, the host it is on; "" for one host and RBD images;
                          // for kHost, the name again

  /// "<kind>.<name>", and "@<host>" when it has one (not for kHost: "host.hv-a")
  std::string ToString() const;
  static std::optional<Address> Parse(std::string_view text);

  auto operator<=>(const Address&) const = default;
};

/// The address of what a resource on `host` refers to by `name`: RBD images are the cluster's
/// (no host); pools, volumes, networks and domains are on the same host.
Address RefOn(Kind kind, std::string name, const std::string& host);

/// The address of host `name`'s settings: {kHost, name, name}.
Address HostAddress(const std::string& name);

}  // namespace vc
