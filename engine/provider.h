// The one interface every backend (libvirt, Ceph) implements. A provider observes and
// carries out steps; it never decides what to change: the planner and the applier do.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "engine/resource.h"
#include "engine/status.h"
#include "engine/step.h"

namespace vc {

class Provider {
 public:
  virtual ~Provider() = default;

  /// The connection the provider talks to, as a URI.
  virtual const std::string& uri() const = 0;

  /// Reads everything the provider manages. Unavailable when the daemon cannot be reached.
  virtual StatusOr<ObservedState> ObserveAll() = 0;

  /// Reads one resource; nullopt when it does not exist.
  virtual StatusOr<std::optional<ObservedResource>> ObserveOne(const Address& address) = 0;

  /// Reads the resources in `addresses`; those that do not exist are not in the result. The
  /// default reads them one by one, which beats ObserveAll when they are few and the host is big.
  virtual StatusOr<ObservedState> ObserveSome(const std::set<Address>& addresses);

  /// Carries out one step exactly as the plan states it; decides nothing. Safe to call from
  /// several threads at once.
  virtual Status Execute(const Step& step) = 0;
};

}  // namespace vc
