// Resource kinds and addresses: `domain.web1`, `volume.images/web1-root`.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace vc {

/// Declared in dependency order: a kind may depend only on kinds before it.
enum class Kind { kPool, kVolume, kRbdImage, kNetwork, kDomain };

inline constexpr Kind kAllKinds[] = {Kind::kPool, Kind::kVolume, Kind::kRbdImage, Kind::kNetwork,
                                     Kind::kDomain};

/// "pool", "volume", "rbd_image", "network", "domain".
std::string_view KindName(Kind kind);
/// The document section: "pools", "volumes", "rbd_images", "networks", "domains".
std::string_view KindSection(Kind kind);
std::optional<Kind> KindFromName(std::string_view name);

struct Address {
  Kind kind;
  std::string name;  // for volumes "<pool>/<volume>", for RBD images "<ceph pool>/<image>"

  /// "<kind>.<name>"
  std::string ToString() const;
  static std::optional<Address> Parse(std::string_view text);

  auto operator<=>(const Address&) const = default;
};

}  // namespace vc
