#include "engine/address.h"

namespace vc {

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kPool:
      return "pool";
    case Kind::kVolume:
      return "volume";
    case Kind::kRbdImage:
      return "rbd_image";
    case Kind::kNetwork:
      return "network";
    case Kind::kDomain:
      return "domain";
  }
  return "?";
}

std::string_view KindSection(Kind kind) {
  switch (kind) {
    case Kind::kPool:
      return "pools";
    case Kind::kVolume:
      return "volumes";
    case Kind::kRbdImage:
      return "rbd_images";
    case Kind::kNetwork:
      return "networks";
    case Kind::kDomain:
      return "domains";
  }
  return "?";
}

std::optional<Kind> KindFromName(std::string_view name) {
  for (Kind kind : kAllKinds) {
    if (KindName(kind) == name) return kind;
  }
  return std::nullopt;
}

std::string Address::ToString() const {
  return std::string(KindName(kind)) + "." + name + (host.empty() ? "" : "@" + host);
}

std::optional<Address> Address::Parse(std::string_view text) {
  std::size_t dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::optional<Kind> kind = KindFromName(text.substr(0, dot));
  if (!kind) return std::nullopt;
  std::string_view rest = text.substr(dot + 1);
  std::size_t at = rest.rfind('@');  // names never hold '@'
  if (at == std::string_view::npos) return Address{*kind, std::string(rest), ""};
  return Address{*kind, std::string(rest.substr(0, at)), std::string(rest.substr(at + 1))};
}

Address RefOn(Kind kind, std::string name, const std::string& host) {
  return Address{kind, std::move(name), kind == Kind::kRbdImage ? "" : host};
}

}  // namespace vc
