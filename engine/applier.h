// Carrying out a plan: the steps it lists and nothing else, stage by stage in dependency order,
// independent resources in parallel, each resource re-read first (and refused when it changed
// since the plan), everything observed again at the end to report whether it converged.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/plan.h"
#include "engine/provider.h"

namespace vc {

struct ApplyOptions {
  int parallelism = 4;
};

struct ResourceOutcome {
  Address address;
  Action action = Action::kUpdate;
  Status status;                   // the first failure, or Ok
  std::vector<std::string> steps;  // the steps carried out, in order
  // Of each step carried out: when it started (seconds since the apply began) and how long it
  // took, so a reader sees what ran at once.
  std::vector<std::pair<double, double>> step_times;
  bool converged = false;              // after apply, observation matches the declared fields
  std::vector<std::string> remaining;  // attribute paths still different, when not converged
};

struct ApplyReport {
  std::vector<ResourceOutcome> outcomes;  // in plan order
  std::vector<Pending> pending;           // restarts still pending after apply
  Status verification;                    // failure of the final observation, if any
  bool connection_lost = false;           // the daemon went away: a rerun finishes the job

  bool ok() const;
  /// Resources whose steps all ran (verified or not).
  int Done() const;
};

/// Called from worker threads, one line at a time, serialised by the applier.
using ProgressFn = std::function<void(const std::string& line)>;

/// Whether `code` says the daemon is gone (the connection is lost: keepalive closed it, or the
/// socket). A timeout of one operation is that resource's failure only.
bool IsConnectionGone(ErrorCode code);

/// Runs the steps of `plan`. REQUIRES: plan.applyable(). Never throws: a failure, even an
/// unexpected exception in a worker, becomes that resource's status.
ApplyReport ApplyPlan(const Plan& plan, Provider& provider, const ApplyOptions& options,
                      const ProgressFn& progress);

/// Json form of a report, for `apply --format json` and the Puppet/Salt front ends.
Json ApplyReportToJson(const ApplyReport& report);

}  // namespace vc
