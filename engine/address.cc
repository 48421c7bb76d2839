#include "engine/address.h"

namespace vc {

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kHost:
      return "host";
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
    case Kind::kHost:
      return "hosts";
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
  if (name == KindName(Kind::kHost)) return Kind::kHost;
  for (Kind kind : kAllKinds) {
    if (KindName(kind) == name) return kind;
  }
  return std::nullopt;
}

std::string Address::ToString() const {
  const bool on_itself = kind == Kind::kHost || host.empty();
  return std::string(KindName(kind)) + "." + name + (on_itself ? "" : "@" + host);
}

std::optional<Address> Address::Parse(std::string_view text) {
  std::size_t dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::optional<Kind> kind = KindFromName(text.substr(0, dot));
  if (!kind) return std::nullopt;
  std::string_view rest = text.substr(dot + 1);
  if (*kind == Kind::kHost) {
    if (rest.find('@') != std::string_view::npos) return std::nullopt;
    return HostAddress(std::string(rest));
  }
  std::size_t at = rest.rfind('@');  // names never hold '@'
  if (at == std::string_view::npos) return Address{*kind, std::string(rest), ""};
  return Address{*kind, std::string(rest.substr(0, at)), std::string(rest.substr(at + 1))};
}

Address RefOn(Kind kind, std::string name, const std::string& host) {
  return Address{kind, std::move(name), kind == Kind::kRbdImage ? "" : host};
}

Address HostAddress(const std::string& name) { return Address{Kind::kHost, name, name}; }

}  // namespace vc
