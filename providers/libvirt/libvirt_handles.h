// RAII owners for libvirt's handles: each is freed exactly once, whatever path the code takes.
#pragma once

#include <libvirt/libvirt.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace vc::libvirt {

struct ConnectDeleter {
  void operator()(virConnectPtr p) const noexcept { virConnectClose(p); }
};
struct DomainDeleter {
  void operator()(virDomainPtr p) const noexcept { virDomainFree(p); }
};
struct PoolDeleter {
  void operator()(virStoragePoolPtr p) const noexcept { virStoragePoolFree(p); }
};
struct VolumeDeleter {
  void operator()(virStorageVolPtr p) const noexcept { virStorageVolFree(p); }
};
struct NetworkDeleter {
  void operator()(virNetworkPtr p) const noexcept { virNetworkFree(p); }
};
struct SecretDeleter {
  void operator()(virSecretPtr p) const noexcept { virSecretFree(p); }
};
struct StreamDeleter {
  void operator()(virStreamPtr p) const noexcept { virStreamFree(p); }
};
struct CharDeleter {
  void operator()(char* p) const noexcept { std::free(p); }
};

using Connection = std::unique_ptr<virConnect, ConnectDeleter>;
using Domain = std::unique_ptr<virDomain, DomainDeleter>;
using Pool = std::unique_ptr<virStoragePool, PoolDeleter>;
using Volume = std::unique_ptr<virStorageVol, VolumeDeleter>;
using Network = std::unique_ptr<virNetwork, NetworkDeleter>;
using Secret = std::unique_ptr<virSecret, SecretDeleter>;
using Stream = std::unique_ptr<virStream, StreamDeleter>;
using CString = std::unique_ptr<char, CharDeleter>;

/// Takes ownership of an array libvirt allocated (virConnectListAll*) and of each element in it.
template <typename Handle, typename Raw>
std::vector<Handle> AdoptList(Raw* list, int count) {
  std::vector<Handle> out;
  for (int i = 0; i < count; ++i) out.emplace_back(list[i]);
  std::free(list);
  return out;
}

/// Takes ownership of a string libvirt allocated; "" for null.
inline std::string AdoptString(char* s) {
  CString owned(s);
  return owned ? std::string(owned.get()) : std::string();
}

}  // namespace vc::libvirt
