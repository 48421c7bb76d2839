// The Ceph backend: RBD images through librbd, over one cluster handle per run, with client
// time-outs short enough that a dead cluster is a clear error in seconds.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/provider.h"

namespace vc::ceph {

/// What a libvirt host needs to reach the cluster as this client. `key` is the cephx secret:
/// it may go to libvirt's private secret store and nowhere else (never a plan, log or output).
struct ClientAccess {
  std::vector<std::pair<std::string, int>> monitors;  // v1 addresses, as QEMU's librbd takes them
  std::string user;                                   // without the "client." prefix
  std::string key;
};

class CephProvider final : public Provider {
 public:
  /// Connects as client.`user` with the monitors and keyring named by `conf`. Unavailable within
  /// `timeout_seconds` when the cluster cannot be reached; InvalidArgument for a wrong key or a
  /// missing keyring, naming the conf and the user.
  static StatusOr<std::unique_ptr<CephProvider>> Open(const std::string& conf,
                                                      const std::string& user,
                                                      int timeout_seconds = 5);
  ~CephProvider() override;

  const std::string& uri() const override { return uri_; }
  StatusOr<ObservedState> ObserveAll() override;
  StatusOr<std::optional<ObservedResource>> ObserveOne(const Address& address) override;
  Status Execute(const Step& step) override;

  /// Monitors, user and key for libvirt (RBD disks and rbd pools).
  StatusOr<ClientAccess> Access() const;

 private:
  struct Cluster;
  CephProvider(std::unique_ptr<Cluster> cluster, std::string conf, std::string user);

  std::unique_ptr<Cluster> cluster_;
  std::string conf_;
  std::string user_;
  std::string uri_;
};

}  // namespace vc::ceph
