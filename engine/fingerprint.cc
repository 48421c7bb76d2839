#include "engine/fingerprint.h"

#include <cstdint>
#include <cstdio>

namespace vc {
namespace {

// FNV-1a: not cryptographic, and need not be: it detects change, it does not authenticate.
void Mix(std::uint64_t* hash, const std::string& text) {
  for (unsigned char c : text) {
    *hash ^= c;
    *hash *= 0x100000001b3ULL;
  }
  *hash ^= 0xff;  // field separator, so ("ab","c") and ("a","bc") differ
  *hash *= 0x100000001b3ULL;
}

}  // namespace

std::string Fingerprint(const ObservedState& state, const std::set<Address>& addresses) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const Address& address : addresses) {
    Mix(&hash, address.ToString());
    auto it = state.resources.find(address);
    if (it == state.resources.end()) {
      Mix(&hash, "absent");
      continue;
    }
    Mix(&hash, it->second.spec.dump());
    Mix(&hash, it->second.live.dump());
    Mix(&hash, it->second.managed ? "managed" : "unmanaged");
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return std::string("fnv1a64:") + hex;
}

}  // namespace vc
