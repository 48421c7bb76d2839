// Opening the backends a run needs: libvirt always, Ceph when a ceph: section (or --ceph-conf)
// names a cluster, wired together so RBD disks can authenticate.
#pragma once

#include <memory>
#include <string>

#include "engine/composite_provider.h"
#include "engine/resource.h"
#include "providers/libvirt/libvirt_provider.h"

namespace vc::cli {

class Backends {
 public:
  /// Connects to libvirt at `uri` and, when `ceph` is an object ({"conf", "user"}), to that
  /// Ceph cluster. Errors name what could not be reached.
  static StatusOr<std::unique_ptr<Backends>> Open(const std::string& uri, const Json& ceph);

  Provider& provider() { return *composite_; }
  libvirt::LibvirtProvider& libvirt() { return *libvirt_; }
  /// The Ceph backend (RBD images), or null without a ceph: section.
  Provider* ceph() { return ceph_.get(); }

 private:
  std::unique_ptr<libvirt::LibvirtProvider> libvirt_;
  std::unique_ptr<Provider> ceph_;
  std::unique_ptr<CompositeProvider> composite_;
};

}  // namespace vc::cli
