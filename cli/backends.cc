#include "cli/backends.h"

namespace vc::cli {

StatusOr<std::unique_ptr<Backends>> Backends::Open(const std::string& uri, const Json& ceph) {
  auto backends = std::make_unique<Backends>();
  StatusOr<std::unique_ptr<libvirt::LibvirtProvider>> lv = libvirt::LibvirtProvider::Open(uri);
  if (!lv.ok()) return lv.status();
  backends->libvirt_ = std::move(*lv);
  backends->composite_ = std::make_unique<CompositeProvider>(backends->libvirt_.get());
  if (ceph.is_object()) {
    StatusOr<std::unique_ptr<ceph::CephProvider>> cluster =
        ceph::CephProvider::Open(ceph.value("conf", ""), ceph.value("user", "admin"));
    if (!cluster.ok()) return cluster.status();
    StatusOr<ceph::ClientAccess> access = (*cluster)->Access();
    if (!access.ok()) return access.status();
    backends->libvirt_->SetCephClient({access->monitors, access->user, access->key});
    backends->ceph_ = std::move(*cluster);
    backends->composite_->Route(Kind::kRbdImage, backends->ceph_.get());
  }
  return backends;
}

}  // namespace vc::cli
