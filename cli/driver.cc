#include "cli/driver.h"

#include <cstdlib>
#include <thread>

#include "engine/planner.h"

namespace vc::cli {

std::string ResolveConnection(const std::string& explicit_uri, const std::string& from_documents) {
  if (!explicit_uri.empty()) return explicit_uri;
  if (!from_documents.empty()) return from_documents;
  if (const char* env = std::getenv("LIBVIRT_DEFAULT_URI"); env != nullptr && *env != '\0')
    return env;
  return "qemu:///system";
}

namespace {

// The ceph: section with its default user filled in: one key per cluster and user.
Json ClusterOf(const Json& ceph) {
  Json cluster = ceph;
  if (cluster.is_object() && !cluster.contains("user")) cluster["user"] = "admin";
  return cluster;
}

// The backends_ key of a host's connection with a cluster (ClusterOf).
std::string BackendsKey(const std::string& uri, const Json& cluster) {
  return uri + "|" + cluster.dump();
}

}  // namespace

StatusOr<Backends*> Driver::Open(const std::string& uri, const Json& ceph) {
  const Json cluster = ClusterOf(ceph);
  const std::string key = BackendsKey(uri, cluster);
  auto it = backends_.find(key);
  if (it != backends_.end()) {
    // A long-lived serve outlives libvirtd restarts: a connection keepalive closed is opened
    // again rather than failing every later request.
    if (it->second->libvirt().alive()) return it->second.get();
    backends_.erase(it);
  }
  StatusOr<std::unique_ptr<Backends>> opened = Backends::Open(uri, cluster);
  if (!opened.ok()) return opened.status();
  Backends* backends = opened->get();
  backends_.emplace(key, std::move(*opened));
  return backends;
}

namespace {

// Takes the host's lock for a run that applies; notes the holder for a run that only plans.
Status LockOrNote(const std::string& uri, const LockPolicy* lock, Driver::Run* run) {
  if (lock == nullptr) {
    if (std::optional<std::string> holder = HostLock::Holder(uri)) {
      run->busy = "an apply is running on " + uri + " (" + *holder +
                  "): this plan may be outdated when it ends";
    }
    return Status::Ok();
  }
  StatusOr<HostLock> held = HostLock::Acquire(uri, lock->purpose, lock->wait);
  if (!held.ok()) return held.status();
  run->locks.push_back(std::make_shared<HostLock>(std::move(*held)));
  return Status::Ok();
}

}  // namespace

StatusOr<ObservedState> Driver::ObserveFleet(const Document& doc, bool skip_unreachable,
                                             const LockPolicy* lock, Run* run) {
  std::vector<std::string> names;
  for (const auto& [name, host] : doc.hosts) names.push_back(name);
  // Connect to every host at once: an unreachable one costs its deadline once, not per host.
  std::map<std::string, StatusOr<Backends*>> opened;
  {
    std::vector<StatusOr<std::unique_ptr<Backends>>> fresh;
    std::vector<std::string> keys;
    std::vector<std::string> to_open;
    const Json cluster = ClusterOf(doc.ceph);
    for (const std::string& name : names) {
      const std::string key = BackendsKey(doc.hosts.at(name).connection, cluster);
      auto it = backends_.find(key);
      if (it != backends_.end() && it->second->libvirt().alive()) {
        opened.emplace(name, it->second.get());
        continue;
      }
      if (it != backends_.end()) backends_.erase(it);
      to_open.push_back(name);
      keys.push_back(key);
    }
    for (std::size_t i = 0; i < to_open.size(); ++i) fresh.emplace_back(Status::Internal(""));
    {
      std::vector<std::jthread> threads;
      for (std::size_t i = 0; i < to_open.size(); ++i) {
        threads.emplace_back(
            [&, i] { fresh[i] = Backends::Open(doc.hosts.at(to_open[i]).connection, cluster); });
      }
    }
    for (std::size_t i = 0; i < to_open.size(); ++i) {
      if (!fresh[i].ok()) {
        opened.emplace(to_open[i], fresh[i].status());
        continue;
      }
      Backends* b = fresh[i]->get();
      backends_.emplace(keys[i], std::move(*fresh[i]));
      opened.emplace(to_open[i], b);
    }
  }
  std::map<std::string, std::string> skipped;
  std::map<std::string, Backends*> reachable;
  for (const auto& [name, backends] : opened) {
    if (backends.ok()) {
      reachable.emplace(name, *backends);
      continue;
    }
    const std::string why = backends.status().message();
    if (!skip_unreachable) {
      return backends.status().WithContext(
          "host " + name + " (" + doc.hosts.at(name).connection +
          ") cannot be reached (--skip-unreachable, or the option skip_unreachable, plans the "
          "other hosts)");
    }
    skipped.emplace(name, why);
  }
  if (reachable.empty()) {
    return Status::Unavailable("no host of the fleet could be reached")
        .WithErrorCode(ErrorCode::kConnectionFailed);
  }
  // In URI order: two fleet runs that share hosts take their locks in one order, never each
  // holding what the other waits for.
  std::map<std::string, std::string> by_uri;
  for (const auto& [name, backends] : reachable) by_uri.emplace(backends->provider().uri(), name);
  for (const auto& [host_uri, name] : by_uri) {
    if (Status s = LockOrNote(host_uri, lock, run); !s.ok()) return s.WithContext("host " + name);
  }
  run->backends = reachable.begin()->second;
  run->fleet = std::make_shared<FleetProvider>(reachable);
  // Each host observed at once; one that fails now is skipped like one that never answered.
  ObservedState observed;
  std::map<std::string, Backends*> answered;
  for (auto& [name, part] : run->fleet->ObserveEachHost()) {
    if (!part.ok()) {
      if (!skip_unreachable) return part.status();
      skipped.emplace(name, part.status().message());
      continue;
    }
    answered.emplace(name, reachable.at(name));
    for (auto& [address, r] : part->resources) observed.resources.emplace(address, std::move(r));
  }
  if (answered.empty()) {
    return Status::Unavailable("no host of the fleet could be observed")
        .WithErrorCode(ErrorCode::kConnectionFailed);
  }
  if (answered.size() != reachable.size()) run->fleet = std::make_shared<FleetProvider>(answered);
  if (Status s = run->fleet->ObserveCluster(&observed); !s.ok()) return s;
  observed.skipped_hosts = skipped;
  run->fleet->ComputeBaseline(doc, &observed);
  run->fleet->CheckMoves(MoveCandidates(doc, observed), &observed);
  return observed;
}

StatusOr<Driver::Run> Driver::PlanDocument(const Document& doc, const std::string& connection,
                                           const PlanOptions& options, const LockPolicy* lock) {
  if (doc.fleet()) {
    if (!connection.empty()) {
      return Status::InvalidArgument(
                 "--connection names one host; the documents declare a fleet (hosts:), which "
                 "names each host's connection")
          .WithErrorCode(ErrorCode::kInvalidValue);
    }
    Run run;
    StatusOr<ObservedState> observed = ObserveFleet(doc, options.skip_unreachable, lock, &run);
    if (!observed.ok()) return observed.status();
    run.plan = ComputePlan(doc, *observed, options);
    return run;
  }
  StatusOr<Backends*> backends = Open(ResolveConnection(connection, doc.connection), doc.ceph);
  if (!backends.ok()) return backends.status();
  Run run{*backends, {}, {}, "", nullptr};
  if (Status s = LockOrNote((*backends)->provider().uri(), lock, &run); !s.ok()) return s;
  StatusOr<ObservedState> observed = ObserveFor(doc, options, (*backends)->provider());
  if (!observed.ok()) return observed.status();
  run.plan = ComputePlan(doc, *observed, options);
  return run;
}

namespace {

// `saved` planned again against `observed`: `run` with that plan when it is the saved one and
// applyable, an error otherwise.
StatusOr<Driver::Run> Replanned(const SavedPlan& saved, const PlanOptions& options,
                                const ObservedState& observed, Driver::Run run) {
  Plan plan = ComputePlan(saved.document, observed, options);
  if (Status same = CompareWithSaved(saved, PlanToJson(plan)); !same.ok()) return same;
  if (!plan.applyable()) {
    return Status::FailedPrecondition(
               "planned again, the saved plan has errors: plan again to see them")
        .WithErrorCode(ErrorCode::kPlanMismatch);
  }
  run.plan = std::move(plan);
  return run;
}

}  // namespace

Json HostFigures(Provider& provider) {
  StatusOr<std::optional<ObservedResource>> node =
      provider.ObserveOne(Address{Kind::kHost, "", ""});
  if (!node.ok() || !node->has_value()) return nullptr;
  Json figures = (*node)->facts;
  figures["ksm_settings"] = (*node)->spec.value("ksm", Json(nullptr));
  return figures;
}

StatusOr<Driver::Run> Driver::ReplanSaved(const SavedPlan& saved, const std::string& connection,
                                          const PlanOptions& allows, const LockPolicy* lock) {
  if (saved.document.fleet()) {
    if (!connection.empty()) {
      return Status::InvalidArgument("--connection names one host; the saved plan is a fleet's")
          .WithErrorCode(ErrorCode::kPlanMismatch);
    }
    Run run;
    PlanOptions options = ReplanOptions(saved, allows);
    StatusOr<ObservedState> observed =
        ObserveFleet(saved.document, options.skip_unreachable, lock, &run);
    if (!observed.ok()) return observed.status();
    return Replanned(saved, options, *observed, std::move(run));
  }
  StatusOr<Backends*> backends =
      Open(connection.empty() ? saved.connection : connection, saved.ceph);
  if (!backends.ok()) return backends.status();
  if ((*backends)->provider().uri() != saved.connection) {
    return Status::FailedPrecondition("the plan was made for " + saved.connection + ", not " +
                                      (*backends)->provider().uri())
        .WithErrorCode(ErrorCode::kPlanMismatch);
  }
  Run run{*backends, {}, {}, "", nullptr};
  if (Status s = LockOrNote(saved.connection, lock, &run); !s.ok()) return s;
  PlanOptions options = ReplanOptions(saved, allows);
  StatusOr<ObservedState> observed = ObserveFor(saved.document, options, (*backends)->provider());
  if (!observed.ok()) return observed.status();
  return Replanned(saved, options, *observed, std::move(run));
}

ApplyReport Driver::Apply(Run& run, const ApplyOptions& options, const ProgressFn& progress) {
  if (run.fleet) run.fleet->SetProgress(progress);
  return ApplyPlan(run.plan, run.provider(), options, progress);
}

}  // namespace vc::cli
