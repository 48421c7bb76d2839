#include "providers/ceph/ceph_plugin.h"

extern "C" void vc_ceph_plugin_open(const std::string& conf, const std::string& user,
                                    vc::ceph::PluginResult* result) {
  vc::StatusOr<std::unique_ptr<vc::ceph::CephProvider>> provider =
      vc::ceph::CephProvider::Open(conf, user);
  if (!provider.ok()) {
    result->status = provider.status();
    return;
  }
  vc::StatusOr<vc::ceph::ClientAccess> access = (*provider)->Access();
  if (!access.ok()) {
    result->status = access.status();
    return;
  }
  result->access = *access;
  result->provider = std::move(*provider);
}
