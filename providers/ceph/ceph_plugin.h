// The Ceph provider is a plugin (libvc_ceph.so) loaded only when a run names a Ceph cluster:
// linking librbd/librados into the binary costs every run ~8 ms of start-up (their relocations and
// static initialisers), which a no-op plan of a small host must not pay.
#pragma once

#include <memory>
#include <string>

#include "engine/provider.h"
#include "providers/ceph/ceph_provider.h"

namespace vc::ceph {

struct PluginResult {
  Status status;
  std::unique_ptr<Provider> provider;
  ClientAccess access;
};

/// The plugin's one entry point, looked up by name with dlsym.
inline constexpr const char* kPluginEntry = "vc_ceph_plugin_open";
using PluginOpen = void (*)(const std::string& conf, const std::string& user, PluginResult* result);

}  // namespace vc::ceph
