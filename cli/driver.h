// The one path every front end of the engine takes (the CLI commands, `serve`, and later the
// HTTP server): resolve the connection and the Ceph cluster, open the backends, observe, plan,
// and apply; or, for a saved plan, plan again and apply only if nothing differs.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "cli/backends.h"
#include "cli/fleet_provider.h"
#include "cli/host_lock.h"
#include "engine/applier.h"
#include "engine/plan.h"
#include "engine/saved_plan.h"

namespace vc::cli {

/// The libvirt URI of a run: `explicit_uri` (a flag or request field), else the documents'
/// `connection:`, else $LIBVIRT_DEFAULT_URI, else qemu:///system.
std::string ResolveConnection(const std::string& explicit_uri, const std::string& from_documents);

/// A run that will change the host holds its lock from before it observes until it is done.
struct LockPolicy {
  std::string purpose;  // "apply", "serve apply": what a waiting run is told holds it
  std::chrono::milliseconds wait = kDefaultLockWait;
};

/// The figures of the host `provider` reaches (its node info as facts: CPUs, memory, free
/// memory, KSM savings) with its KSM settings as "ksm_settings" (docs/capacity.md); null when
/// its driver reports none. Never fails: a host that cannot say is null.
Json HostFigures(Provider& provider);

class Driver {
 public:
  struct Run {
    Backends* backends = nullptr;  // owned by the Driver; for a fleet, its first host's
    Plan plan;
    std::vector<std::shared_ptr<HostLock>> locks;  // held by a run that applies (every host)
    std::string busy;                      // for a plan: the apply running on the host now, if any
    std::shared_ptr<FleetProvider> fleet;  // a fleet's hosts, when the document has hosts:

    Provider& provider() { return fleet ? *fleet : backends->provider(); }
  };

  /// The backends for `uri` and `ceph` (null, or {"conf", "user"?}), opened on first use and kept
  /// for the Driver's life, so a long-lived `serve` holds one connection per host.
  StatusOr<Backends*> Open(const std::string& uri, const Json& ceph);

  /// Opens what `doc` needs (on `connection`, resolved by ResolveConnection), observes and plans.
  /// With `lock`, the host's lock is taken before observing and held by the Run (kHostBusy when
  /// the wait ends); without, the Run says in `busy` whether an apply holds it.
  StatusOr<Run> PlanDocument(const Document& doc, const std::string& connection,
                             const PlanOptions& options, const LockPolicy* lock = nullptr);

  /// Plans `saved`'s document again, with this run's allow flags, against the host as it is now;
  /// the plan only when it is identical to the saved one (CompareWithSaved), an error otherwise.
  /// `connection`, when given, must resolve to the saved plan's.
  /// Only `allows`' allow flags are used (ReplanOptions).
  StatusOr<Run> ReplanSaved(const SavedPlan& saved, const std::string& connection,
                            const PlanOptions& allows, const LockPolicy* lock = nullptr);

  /// Runs the plan's steps. REQUIRES: run.plan.applyable().
  ApplyReport Apply(Run& run, const ApplyOptions& options, const ProgressFn& progress);

  /// Opens and observes every host of a fleet document at once (each connection and each
  /// observation in parallel), with the CPU checks of the moves it may plan. A host that cannot
  /// be reached is an error naming it, or, with `skip_unreachable`, left out and named in the
  /// result's skipped_hosts. With `lock`, every host's lock is taken first (in name order).
  StatusOr<ObservedState> ObserveFleet(const Document& doc, bool skip_unreachable,
                                       const LockPolicy* lock, Run* run);

 private:
  std::map<std::string, std::unique_ptr<Backends>> backends_;  // by URI and ceph section
};

}  // namespace vc::cli
