// Several backends behind the one Provider interface: each kind of resource goes to the backend
// that holds it (libvirt: pools, volumes, networks, domains; Ceph: RBD images).
#pragma once

#include <map>
#include <string>

#include "engine/provider.h"

namespace vc {

class CompositeProvider final : public Provider {
 public:
  /// `primary` serves every kind not routed elsewhere and names the connection. Not owned.
  explicit CompositeProvider(Provider* primary) : primary_(primary) {}

  /// Sends `kind` to `provider` (not owned).
  void Route(Kind kind, Provider* provider) { routes_[kind] = provider; }

  const std::string& uri() const override { return primary_->uri(); }
  StatusOr<ObservedState> ObserveAll() override;
  StatusOr<std::optional<ObservedResource>> ObserveOne(const Address& address) override;
  Status Execute(const Step& step) override;

 private:
  Provider* For(Kind kind) const;
  // A domain snapshot spans backends (volumes through libvirt, RBD images through Ceph): taken,
  // deleted or reverted here as one operation, the guest frozen or paused around the taking and
  // always thawed or resumed.
  Status ExecuteDomainSnapshot(const Step& step);

  Provider* primary_;
  std::map<Kind, Provider*> routes_;
};

}  // namespace vc
