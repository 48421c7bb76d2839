// A fleet's hosts behind the one Provider interface: each address goes to the host it names (RBD
// images to the Ceph cluster), every host is observed at once, and a `migrate` step, the one
// step that needs two hosts, is carried out between the two hosts' libvirt connections.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cli/backends.h"
#include "engine/applier.h"
#include "engine/placement.h"

namespace vc::cli {

class FleetProvider final : public Provider {
 public:
  /// `hosts`: name → its backends (not owned), the reachable hosts only. RBD images are read
  /// and changed through the first host's Ceph connection.
  explicit FleetProvider(std::map<std::string, Backends*> hosts);

  const std::string& uri() const override { return uri_; }
  /// Every host in parallel, each address tagged with its host. The first failure, naming the
  /// host, when a host fails.
  StatusOr<ObservedState> ObserveAll() override;
  StatusOr<std::optional<ObservedResource>> ObserveOne(const Address& address) override;
  StatusOr<ObservedState> ObserveSome(const std::set<Address>& addresses) override;
  Status Execute(const Step& step) override;

  /// Fills observed->cpu_checks for each candidate: [] when the destination can run the
  /// domain's CPU, the features it lacks, or {"error": why}.
  void CheckMoves(const std::vector<MoveCandidate>& candidates, ObservedState* observed);

  /// Fills observed->cpu_baseline when a domain of `doc` asks for cpu mode baseline.
  void ComputeBaseline(const Document& doc, ObservedState* observed);

  /// Where migration progress lines go during apply (may be empty).
  void SetProgress(ProgressFn progress) { progress_ = std::move(progress); }

  /// Observes every host at once: each one's libvirt resources tagged with its name (no RBD
  /// images), or why it failed, by host name.
  std::map<std::string, StatusOr<ObservedState>> ObserveEachHost();

  /// Adds the Ceph cluster's RBD images (read once, through the first host's connection).
  Status ObserveCluster(ObservedState* observed);

 private:
  Backends* Host(const std::string& name) const;
  StatusOr<ObservedState> ObserveHost(const std::string& name);
  Provider* Cluster() const;
  Status Migrate(const Step& step);
  void Say(const std::string& line);

  std::map<std::string, Backends*> hosts_;
  std::string uri_;
  ProgressFn progress_;
  std::mutex say_mu_;
};

}  // namespace vc::cli
