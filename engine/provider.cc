#include "engine/provider.h"

namespace vc {

StatusOr<ObservedState> Provider::ObserveSome(const std::set<Address>& addresses) {
  ObservedState state;
  state.connection = uri();
  for (const Address& address : addresses) {
    StatusOr<std::optional<ObservedResource>> one = ObserveOne(address);
    if (!one.ok()) {
      if (one.status().code() == Status::Code::kUnsupported) continue;  // a kind nobody serves
      return one.status();
    }
    if (one->has_value()) state.resources.emplace(address, std::move(**one));
  }
  return state;
}

}  // namespace vc
