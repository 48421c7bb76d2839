#include "cli/driver.h"

#include <cstdlib>

#include "engine/planner.h"

namespace vc::cli {

std::string ResolveConnection(const std::string& explicit_uri, const std::string& from_documents) {
  if (!explicit_uri.empty()) return explicit_uri;
  if (!from_documents.empty()) return from_documents;
  if (const char* env = std::getenv("LIBVIRT_DEFAULT_URI"); env != nullptr && *env != '\0')
    return env;
  return "qemu:///system";
}

StatusOr<Backends*> Driver::Open(const std::string& uri, const Json& ceph) {
  Json cluster = ceph;
  if (cluster.is_object() && !cluster.contains("user"))
    cluster["user"] = "admin";  // one key per cluster
  std::string key = uri + "|" + cluster.dump();
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
  run->lock = std::make_shared<HostLock>(std::move(*held));
  return Status::Ok();
}

}  // namespace

StatusOr<Driver::Run> Driver::PlanDocument(const Document& doc, const std::string& connection,
                                           const PlanOptions& options, const LockPolicy* lock) {
  StatusOr<Backends*> backends = Open(ResolveConnection(connection, doc.connection), doc.ceph);
  if (!backends.ok()) return backends.status();
  Run run{*backends, {}, nullptr, ""};
  if (Status s = LockOrNote((*backends)->provider().uri(), lock, &run); !s.ok()) return s;
  StatusOr<ObservedState> observed = ObserveFor(doc, options, (*backends)->provider());
  if (!observed.ok()) return observed.status();
  run.plan = ComputePlan(doc, *observed, options);
  return run;
}

StatusOr<Driver::Run> Driver::ReplanSaved(const SavedPlan& saved, const std::string& connection,
                                          bool allow_destroy, bool allow_restart, bool prune,
                                          const LockPolicy* lock) {
  StatusOr<Backends*> backends =
      Open(connection.empty() ? saved.connection : connection, saved.ceph);
  if (!backends.ok()) return backends.status();
  if ((*backends)->provider().uri() != saved.connection) {
    return Status::FailedPrecondition("the plan was made for " + saved.connection + ", not " +
                                      (*backends)->provider().uri())
        .WithErrorCode(ErrorCode::kPlanMismatch);
  }
  Run run{*backends, {}, nullptr, ""};
  if (Status s = LockOrNote(saved.connection, lock, &run); !s.ok()) return s;
  PlanOptions options = ReplanOptions(saved, allow_destroy, allow_restart, prune);
  StatusOr<ObservedState> observed = ObserveFor(saved.document, options, (*backends)->provider());
  if (!observed.ok()) return observed.status();
  Plan plan = ComputePlan(saved.document, *observed, options);
  if (Status same = CompareWithSaved(saved, PlanToJson(plan)); !same.ok()) return same;
  if (!plan.applyable()) {
    return Status::FailedPrecondition(
               "planned again, the saved plan has errors: plan again to see them")
        .WithErrorCode(ErrorCode::kPlanMismatch);
  }
  run.plan = std::move(plan);
  return run;
}

ApplyReport Driver::Apply(Run& run, const ApplyOptions& options, const ProgressFn& progress) {
  return ApplyPlan(run.plan, run.backends->provider(), options, progress);
}

}  // namespace vc::cli
