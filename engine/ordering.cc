#include "engine/ordering.h"

namespace vc {

std::vector<Address> Dependencies(const Change& change) {
  std::vector<Address> deps;
  const Json& d = change.desired;
  if (!d.is_object()) return deps;
  const std::string& host = change.address.host;
  if (change.address.kind == Kind::kVolume) {
    deps.push_back(
        RefOn(Kind::kPool, change.address.name.substr(0, change.address.name.find('/')), host));
    if (d.contains("backing_volume"))
      deps.push_back(RefOn(Kind::kVolume, d["backing_volume"], host));
  }
  if (change.address.kind == Kind::kRbdImage && d.contains("clone_from")) {
    std::string parent = d["clone_from"];
    deps.push_back(RefOn(Kind::kRbdImage, parent.substr(0, parent.find('@')), host));
  }
  if (change.address.kind == Kind::kDomain) {
    for (const Json& disk : d.value("disks", Json::array())) {
      if (disk.contains("rbd")) {
        deps.push_back(RefOn(Kind::kRbdImage, disk["rbd"], host));
      } else {
        deps.push_back(RefOn(Kind::kVolume, disk.value("volume", ""), host));
      }
    }
    for (const Json& nic : d.value("interfaces", Json::array())) {
      deps.push_back(RefOn(Kind::kNetwork, nic.value("network", ""), host));
    }
    if (d.contains("cloud_init")) {  // the pool its seed volume is written to
      deps.push_back(RefOn(Kind::kPool, d["cloud_init"].value("pool", ""), host));
    }
  }
  return deps;
}

std::set<Address> FingerprintAddresses(const std::vector<Change>& changes) {
  std::set<Address> addresses;
  for (const Change& change : changes) {
    addresses.insert(change.address);
    for (const Address& dep : Dependencies(change)) addresses.insert(dep);
    for (const Step& step : change.steps) addresses.insert(step.address);
  }
  return addresses;
}

int StageOf(const Change& change) {
  const Kind kind = change.address.kind;
  const Json& d = change.desired;
  if (change.action == Action::kDelete) {
    // Clones and overlays are not known to be such from a delete alone (desired is null): all
    // images go in one stage, and the planner refuses to delete a parent with clones left.
    switch (kind) {
      case Kind::kDomain:
        return 0;
      case Kind::kNetwork:
        return 1;
      case Kind::kVolume:
      case Kind::kRbdImage:
        return 2;
      case Kind::kPool:
        return 3;
      case Kind::kHost:  // never deleted
        return 0;
    }
  }
  switch (kind) {
    case Kind::kHost:  // KSM settled before the domains it is to merge start
      return 0;
    case Kind::kPool:
      return 4;
    case Kind::kVolume:
      return d.is_object() && d.contains("backing_volume") ? 6 : 5;
    case Kind::kRbdImage:
      return d.is_object() && d.contains("clone_from") ? 6 : 5;
    case Kind::kNetwork:
      return 7;
    case Kind::kDomain:
      return 8;
  }
  return 9;
}

std::optional<std::set<Address>> ObservationScope(const Document& doc, const PlanOptions& options) {
  // A fleet is observed whole: where a domain is decides what its plan is.
  if (options.prune || doc.fleet()) return std::nullopt;
  std::set<Address> scope;
  for (const auto& [address, desired] : doc.resources) {
    if (address.kind == Kind::kVolume || address.kind == Kind::kRbdImage) return std::nullopt;
    if (address.kind == Kind::kPool && desired.absent) return std::nullopt;
    scope.insert(address);
    if (desired.absent) continue;
    for (const Address& dep :
         Dependencies(Change{address, Action::kCreate, {}, nullptr, desired.spec, {}, ""})) {
      scope.insert(dep);
    }
  }
  // Reading one resource costs several round trips; reading everything costs a few list calls
  // plus one per domain. Past a handful of resources, everything is cheaper.
  constexpr std::size_t kMostReadOneByOne = 8;
  if (scope.size() > kMostReadOneByOne) return std::nullopt;
  return scope;
}

}  // namespace vc
