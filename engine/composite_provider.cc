#include "engine/composite_provider.h"

#include <set>

namespace vc {

Provider* CompositeProvider::For(Kind kind) const {
  auto it = routes_.find(kind);
  return it == routes_.end() ? primary_ : it->second;
}

StatusOr<ObservedState> CompositeProvider::ObserveAll() {
  StatusOr<ObservedState> merged = primary_->ObserveAll();
  if (!merged.ok()) return merged;
  // The primary may list things another backend owns (an rbd pool's volumes); the owner's view
  // wins.
  std::set<Provider*> others;
  for (const auto& [kind, provider] : routes_) {
    if (provider != primary_) others.insert(provider);
  }
  for (Provider* provider : others) {
    StatusOr<ObservedState> part = provider->ObserveAll();
    if (!part.ok()) return part.status();
    for (auto& [address, resource] : part->resources) {
      if (For(address.kind) == provider) merged->resources[address] = std::move(resource);
    }
  }
  return merged;
}

StatusOr<std::optional<ObservedResource>> CompositeProvider::ObserveOne(const Address& address) {
  return For(address.kind)->ObserveOne(address);
}

Status CompositeProvider::Execute(const Step& step) {
  return For(step.address.kind)->Execute(step);
}

}  // namespace vc
