// The libvirt backend: pools, volumes, networks and domains through the libvirt C API, over one
// connection shared by all threads of a run.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "engine/provider.h"
#include "providers/libvirt/connect.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/libvirt_handles.h"
#include "providers/libvirt/migration.h"

namespace vc::libvirt {

/// A Ceph client as domains and rbd pools use it. `key` is the cephx secret (base64): it goes
/// into a private libvirt secret and nowhere else.
struct CephClient {
  std::vector<std::pair<std::string, int>> monitors;
  std::string user;
  std::string key;
};

/// Whether the running guest's balloon driver reports memory statistics: "answers", "silent"
/// (none reported: no driver, or no statistics period set), or "unknown" (the call failed).
std::string BalloonDriver(virDomainPtr domain);

class LibvirtProvider final : public Provider {
 public:
  /// Connects to `uri`: kConnectionFailed (with libvirt's reason) when the daemon cannot be
  /// reached, kTimeout when it does not answer within `timeout`; later calls fail with
  /// kConnectionLost within about `timeout` of the daemon going silent (ConnectWithDeadline).
  static StatusOr<std::unique_ptr<LibvirtProvider>> Open(
      const std::string& uri, std::chrono::seconds timeout = kDefaultDaemonTimeout);

  const std::string& uri() const override { return uri_; }

  /// Enables RBD disks and rbd pools. REQUIRES: called before any step runs.
  void SetCephClient(CephClient client) { ceph_ = std::move(client); }
  StatusOr<ObservedState> ObserveAll() override;
  StatusOr<std::optional<ObservedResource>> ObserveOne(const Address& address) override;
  Status Execute(const Step& step) override;

  /// Whether the connection still works (keepalive has not closed it); a local check.
  bool alive() const;

  /// Moves the domain `name` from this host to `destination` (another host's provider): when it
  /// runs, live (MigrateLive; local disks copied when `copy_storage`), after defining the Ceph
  /// secret on the destination when this run has a Ceph client; when it is stopped, its
  /// persistent definition is defined there, then undefined here (undone there if that fails).
  /// Afterwards it is on `destination` only, or (on failure) still here.
  Status MigrateTo(LibvirtProvider& destination, const std::string& name, bool copy_storage,
                   const MigrationOptions& options, MigrationStats* stats);

  /// The CPU every host of `hosts` can run (BaselineCpu of their connections), in the document's
  /// form ({"mode": "custom", "model", "require"?, "disable"?}).
  static StatusOr<Json> BaselineOf(const std::vector<LibvirtProvider*>& hosts);

  /// Whether `destination` can run the CPU of this host's domain `name`
  /// (CheckCpuCompatible with its live definition when running, else its persistent one).
  Status CheckCpuOn(LibvirtProvider& destination, const std::string& name,
                    std::vector<std::string>* missing_features);

 private:
  LibvirtProvider(Connection conn, std::string uri);

  StatusOr<ObservedState> ObserveAllUnchecked();
  StatusOr<std::optional<ObservedResource>> ObserveOneUnchecked(const Address& address);
  Status ExecuteUnchecked(const Step& step);
  // A failure classed connection_lost while the connection is in fact alive is the operation's
  // own failure (an error relayed from another daemon's RPC): operation_failed.
  Status Confirmed(Status status) const;

  StatusOr<ObservedResource> ReadPool(virStoragePoolPtr pool, const std::string& name);
  /// `state_and_autostart` when the caller has them from bulk list calls; read per domain if not.
  StatusOr<ObservedResource> ReadDomain(
      virDomainPtr domain, const std::string& name,
      const std::function<std::optional<std::string>(const std::string&)>& volume_by_path,
      std::optional<std::pair<std::string, bool>> state_and_autostart = std::nullopt);
  StatusOr<ObservedResource> ReadNetwork(virNetworkPtr network, const std::string& name);
  std::optional<std::string> VolumeKeyByPath(const std::string& path);

  Status CreatePool(const Step& step);
  Status CreateVolume(const Step& step);
  Status CreateNetwork(const Step& step);
  Status CreateDomain(const Step& step);
  // freeze, thaw, snapshot_domain, delete_domain_snapshot, revert_domain_snapshot
  // (providers/libvirt/snapshot.h).
  Status DomainSnapshotStep(const Step& step);
  /// write_seed: builds the cidata image from the step's cloud_init, refuses unless it hashes to
  /// the plan's seed, and uploads it into the seed volume (created, or grown, as needed).
  Status WriteSeed(const Step& step);
  /// The cloud_init value the seed volume <pool>/<domain>-cidata.iso holds, with its pool;
  /// {"pool"} alone when it cannot be read (the plan then writes it again).
  Json ReadSeed(const std::string& pool, const std::string& domain);
  Status WriteDomainConfig(const Step& step);
  Status Delete(const Step& step);
  Status Start(const Step& step);
  Status Shutdown(const Step& step);
  Status SetAutostart(const Step& step);
  Status ResizeVolume(const Step& step);
  Status BlockResize(const Step& step);
  Status SetVcpusLive(const Step& step);
  Status SetMemoryLive(const Step& step);
  Status AttachLive(const Step& step, const std::string& device_xml);
  Status DetachLive(const Step& step);

  /// How long a guest gets to complete a detach or follow the balloon before it is an error.
  static constexpr int kDeviceTimeoutSeconds = 15;

  StatusOr<Domain> LookupDomain(const std::string& name);
  StatusOr<Volume> LookupVolume(const std::string& key);
  const std::string& DefaultVirtType();
  /// How domain XML is written here: the default accelerator and volume formats.
  DomainXmlContext XmlContext();
  bool IsLocal() const;

  /// The UUID of the libvirt secret holding the Ceph key, defining it (and setting its value)
  /// once per run.
  StatusOr<std::string> CephSecretUuid();
  Status DefineCephSecret(const Step& step);

  Connection conn_;
  std::string uri_;
  std::optional<CephClient> ceph_;
  std::once_flag secret_once_;
  Status secret_status_;
  std::string secret_uuid_;
  std::once_flag virt_type_once_;
  std::string virt_type_;
};

}  // namespace vc::libvirt
