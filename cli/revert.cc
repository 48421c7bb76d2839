// `virtconverge revert DOMAIN SNAPSHOT`: a domain's disks back to one of its declared snapshots
// (engine/domain_snapshots.h). An explicit command, never a document edit: it discards what the
// guest wrote since, so it asks for the allows a plan would: --allow-restart to shut a running
// guest down (and start it again), --allow-destroy when later snapshots are dropped with it.
#include <boost/program_options.hpp>
#include <iostream>

#include "cli/backends.h"
#include "cli/command_args.h"
#include "cli/commands.h"
#include "cli/driver.h"
#include "cli/host_lock.h"
#include "engine/domain_snapshots.h"
#include "engine/names.h"

namespace po = boost::program_options;

namespace vc::cli {
namespace {

constexpr const char* kRevertUsage =
    R"(usage: virtconverge revert DOMAIN SNAPSHOT [--allow-restart] [--allow-destroy] [options]

Put the disks of DOMAIN back to its snapshot SNAPSHOT (one its `snapshots:` list took): every
volume disk gets a fresh overlay over the snapshot's point in time, every RBD disk is rolled back
to vcsnap-SNAPSHOT. What the guest wrote since is discarded; the snapshot itself is kept.
A running domain is shut down first and started again afterwards, only with --allow-restart.
Snapshots taken after SNAPSHOT are dropped, only with --allow-destroy (they name points after
the one restored). Domains with RBD disks need --ceph-conf (and --ceph-user).
Exit codes: 0 reverted, 1 error (refused: nothing changed), 3 another run holds the host's lock.)";

constexpr int kExitBusy = 3;

}  // namespace

int RevertCommand(const Args& args) {
  po::options_description options("revert options");
  options.add_options()("connection,c", po::value<std::string>(),
                        "libvirt URI (default: $LIBVIRT_DEFAULT_URI, qemu:///system)")(
      "allow-restart", po::bool_switch(), "shut a running domain down and start it again")(
      "allow-destroy", po::bool_switch(), "drop the snapshots taken after SNAPSHOT")(
      "shutdown-timeout", po::value<int>()->default_value(60),
      "seconds a graceful shutdown may take before the guest is forced off (1-3600)")(
      "ceph-conf", po::value<std::string>(), "ceph.conf of the cluster holding RBD disks")(
      "ceph-user", po::value<std::string>(), "cephx user, without 'client.' (default: admin)");
  po::variables_map vm;
  int code = 0;
  if (!ParseCommandArgs(args, std::string(kRevertUsage) + "\n", options, {"domain", "snapshot"},
                        &vm, &code))
    return code;
  const std::string domain = OptionText(vm, "domain");
  const std::string snapshot = OptionText(vm, "snapshot");
  if (domain.empty() || snapshot.empty())
    return FailCommand(Status::InvalidArgument("name the domain and the snapshot (see --help)"));
  if (Status s = CheckName(domain); !s.ok()) return FailCommand(s.WithContext("the domain name"));
  if (Status s = CheckName(snapshot); !s.ok())
    return FailCommand(s.WithContext("the snapshot name"));
  const int shutdown_timeout = vm["shutdown-timeout"].as<int>();
  if (shutdown_timeout < 1 || shutdown_timeout > 3600)
    return FailCommand(Status::InvalidArgument("--shutdown-timeout must be 1-3600 seconds"));
  Json ceph = nullptr;
  if (vm.count("ceph-conf")) {
    ceph = {{"conf", OptionText(vm, "ceph-conf")},
            {"user", vm.count("ceph-user") ? OptionText(vm, "ceph-user") : "admin"}};
  }

  const std::string uri = ResolveConnection(OptionText(vm, "connection"), "");
  StatusOr<HostLock> lock = HostLock::Acquire(uri, "revert", kDefaultLockWait);
  if (!lock.ok()) {
    PrintCommandError(lock.status().message());
    return lock.status().error_code() == ErrorCode::kHostBusy ? kExitBusy : kCommandError;
  }
  StatusOr<std::unique_ptr<Backends>> backends = Backends::Open(uri, ceph);
  if (!backends.ok()) return FailCommand(backends.status());
  Provider& provider = (*backends)->provider();
  const Address address{Kind::kDomain, domain};
  StatusOr<std::optional<ObservedResource>> observed = provider.ObserveOne(address);
  if (!observed.ok()) return FailCommand(observed.status());
  if (!observed->has_value())
    return FailCommand(Status::NotFound("there is no domain " + domain + " on " + uri));
  const ObservedResource& r = **observed;
  if (std::optional<std::string> bad = BadSnapshotRecord(r)) {
    return FailCommand(Status::InvalidArgument("domain " + domain + ": " + *bad));
  }

  const Json taken = r.spec.value("snapshots", Json::array());
  Json later = Json::array();
  bool found = false;
  for (const Json& name : taken) {
    if (found) later.push_back(name);
    found = found || name == snapshot;
  }
  if (!found) {
    return FailCommand(Status::NotFound("domain " + domain + " has no snapshot " + snapshot +
                                        " (it has " + (taken.empty() ? "none" : taken.dump()) +
                                        ")"));
  }
  const bool running = r.spec.value("state", "") == "running";
  if (running && !vm["allow-restart"].as<bool>()) {
    return FailCommand(Status::FailedPrecondition(
        "domain " + domain +
        " is running: reverting shuts it down and starts it again; pass --allow-restart"));
  }
  if (!later.empty() && !vm["allow-destroy"].as<bool>()) {
    return FailCommand(Status::FailedPrecondition("reverting " + domain + " to " + snapshot +
                                                  " drops the snapshots taken after it (" +
                                                  later.dump() + "); pass --allow-destroy"));
  }

  std::vector<Step> steps;
  if (running) {
    steps.push_back({Step::Op::kShutdown, address, {{"timeout_seconds", shutdown_timeout}}});
  }
  steps.push_back(
      {Step::Op::kRevertDomainSnapshot,
       address,
       {{"snapshot", snapshot}, {"later", later}, {"disks", SnapshotDisks(Json::object(), &r)}}});
  if (running) steps.push_back({Step::Op::kStart, address, Json::object()});
  for (const Step& step : steps) {
    std::cout << "  " << step.Describe() << std::endl;
    if (Status s = provider.Execute(step); !s.ok()) return FailCommand(s);
  }
  std::cout << "Reverted " << domain << " to snapshot " << snapshot
            << (later.empty() ? "" : "; dropped " + later.dump()) << ".\n";
  return kCommandOk;
}

}  // namespace vc::cli
