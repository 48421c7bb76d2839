#include "engine/applier.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "engine/diff.h"
#include "engine/domain_rules.h"
#include "engine/ordering.h"
#include "engine/plan_text.h"

namespace vc {
namespace {

// Re-reads the resource and compares it with what the plan saw. A moving domain is re-read where
// it is, and must not have appeared where it goes.
Status CheckUnchanged(const Change& change, Provider& provider) {
  if (change.action == Action::kMigrate) {
    StatusOr<std::optional<ObservedResource>> there = provider.ObserveOne(change.address);
    if (!there.ok()) return there.status().WithContext("re-reading " + change.address.ToString());
    if (there->has_value()) {
      return Status::FailedPrecondition(change.address.ToString() +
                                        ": changed since plan: it now exists there")
          .WithErrorCode(ErrorCode::kChangedSincePlan);
    }
  }
  const Address at = change.action == Action::kMigrate
                         ? Address{change.address.kind, change.address.name, change.from_host}
                         : change.address;
  StatusOr<std::optional<ObservedResource>> now = provider.ObserveOne(at);
  if (!now.ok()) return now.status().WithContext("re-reading " + at.ToString());
  const std::string where = at.ToString() + ": changed since plan";
  if (change.action == Action::kCreate) {
    if (now->has_value()) {
      return Status::FailedPrecondition(where + ": it now exists")
          .WithErrorCode(ErrorCode::kChangedSincePlan);
    }
    return Status::Ok();
  }
  if (!now->has_value()) {
    return Status::FailedPrecondition(where + ": it no longer exists")
        .WithErrorCode(ErrorCode::kChangedSincePlan);
  }
  const Json& spec = (*now)->spec;
  Json seen = change.action == Action::kDelete ? spec : Project(spec, change.desired);
  if (seen == change.before) return Status::Ok();
  std::string detail;
  for (const AttributeChange& a : DiffAttributes(change.before, seen)) {
    detail += fmt::format("{}{} was {}, is now {}", detail.empty() ? "" : "; ", a.path,
                          RenderValue(a.after), RenderValue(a.before));
  }
  return Status::FailedPrecondition(where + (detail.empty() ? "" : ": " + detail) +
                                    " (run plan again)")
      .WithErrorCode(ErrorCode::kChangedSincePlan);
}

}  // namespace

bool ApplyReport::ok() const {
  if (!verification.ok()) return false;
  for (const ResourceOutcome& o : outcomes) {
    if (!o.status.ok() || !o.converged) return false;
  }
  return true;
}

namespace {

Json StepTimesToJson(const std::vector<std::pair<double, double>>& times) {
  Json out = Json::array();
  for (const auto& [start, seconds] : times) {
    // Milliseconds are all a reader needs, and keep the JSON short.
    out.push_back({{"start", std::round(start * 1000) / 1000},
                   {"seconds", std::round(seconds * 1000) / 1000}});
  }
  return out;
}

}  // namespace

int ApplyReport::Done() const {
  int done = 0;
  for (const ResourceOutcome& o : outcomes) done += o.status.ok() ? 1 : 0;
  return done;
}

bool IsConnectionGone(ErrorCode code) { return code == ErrorCode::kConnectionLost; }

ApplyReport ApplyPlan(const Plan& plan, Provider& provider, const ApplyOptions& options,
                      const ProgressFn& progress) {
  ApplyReport report;
  report.outcomes.resize(plan.changes.size());
  const auto apply_start = std::chrono::steady_clock::now();
  std::mutex mu;  // guards `failed` and calls to `progress`
  std::set<Address> failed;
  // Once the daemon is gone, starting more resources only piles up the same failure.
  std::atomic<bool> lost{false};
  auto say = [&](const std::string& line) {
    std::lock_guard<std::mutex> lock(mu);
    if (progress) progress(line);
  };

  auto apply_one = [&](std::size_t index) {
    const Change& change = plan.changes[index];
    ResourceOutcome& outcome = report.outcomes[index];
    outcome.address = change.address;
    outcome.action = change.action;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const Address& dep : Dependencies(change)) {
        if (failed.count(dep)) {
          outcome.status =
              Status::FailedPrecondition(change.address.ToString() + ": skipped because " +
                                         dep.ToString() + " failed")
                  .WithErrorCode(ErrorCode::kSkipped);
        }
      }
    }
    if (outcome.status.ok() && lost) {
      outcome.status =
          Status::Unavailable(change.address.ToString() + ": not started: the connection to " +
                              provider.uri() + " was lost")
              .WithErrorCode(ErrorCode::kConnectionLost);
    }
    if (outcome.status.ok()) outcome.status = CheckUnchanged(change, provider);
    if (outcome.status.ok()) {
      for (const Step& step : change.steps) {
        auto start = std::chrono::steady_clock::now();
        Status s = provider.Execute(step);
        double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (!s.ok()) {
          // Providers often name the step themselves; say it once.
          outcome.status =
              s.message().rfind(step.Describe(), 0) == 0 ? s : s.WithContext(step.Describe());
          say(fmt::format("{}: {} failed after {:.2f} s", change.address.ToString(),
                          step.Describe(), seconds));
          break;
        }
        outcome.steps.push_back(step.Describe());
        outcome.step_times.push_back(
            {std::chrono::duration<double>(start - apply_start).count(), seconds});
        say(fmt::format("{}: {} ({:.2f} s)", change.address.ToString(), step.Describe(), seconds));
      }
    }
    if (!outcome.status.ok()) {
      std::lock_guard<std::mutex> lock(mu);
      failed.insert(change.address);
    }
    if (IsConnectionGone(outcome.status.error_code())) lost = true;
  };

  // Changes of one stage are independent: run them on up to `parallelism` threads.
  std::size_t begin = 0;
  while (begin < plan.changes.size()) {
    std::size_t end = begin;
    while (end < plan.changes.size() &&
           StageOf(plan.changes[end]) == StageOf(plan.changes[begin])) {
      ++end;
    }
    std::atomic<std::size_t> next{begin};
    std::size_t workers = std::min<std::size_t>(std::max(1, options.parallelism), end - begin);
    std::vector<std::jthread> pool;
    for (std::size_t w = 0; w < workers; ++w) {
      pool.emplace_back([&] {
        for (std::size_t i = next++; i < end; i = next++) {
          // Nothing may escape a worker thread (it would end the process): a library exception
          // becomes the resource's failure.
          try {
            apply_one(i);
          } catch (const std::exception& e) {
            report.outcomes[i].status = Status::Internal(plan.changes[i].address.ToString() +
                                                         ": unexpected error: " + e.what());
          } catch (...) {
            report.outcomes[i].status =
                Status::Internal(plan.changes[i].address.ToString() + ": unexpected error");
          }
          if (!report.outcomes[i].status.ok()) {
            std::lock_guard<std::mutex> lock(mu);
            failed.insert(plan.changes[i].address);
          }
        }
      });
    }
    pool.clear();  // joins
    begin = end;
  }

  for (const ResourceOutcome& o : report.outcomes) {
    if (IsConnectionGone(o.status.error_code())) report.connection_lost = true;
  }
  // Verify: observe afresh and compare each changed resource with its declared fields.
  StatusOr<ObservedState> after =
      report.connection_lost
          ? StatusOr<ObservedState>(
                Status::Unavailable("the connection to " + provider.uri() + " was lost")
                    .WithErrorCode(ErrorCode::kConnectionLost))
          : provider.ObserveSome(FingerprintAddresses(plan.changes));
  if (!after.ok()) {
    report.verification = after.status().WithContext("observing after apply");
    if (IsConnectionGone(after.status().error_code())) report.connection_lost = true;
    return report;
  }
  for (std::size_t i = 0; i < plan.changes.size(); ++i) {
    const Change& change = plan.changes[i];
    ResourceOutcome& outcome = report.outcomes[i];
    auto it = after->resources.find(change.address);
    if (change.action == Action::kDelete) {
      outcome.converged = it == after->resources.end();
      if (!outcome.converged) outcome.remaining.push_back("ensure");
      continue;
    }
    if (change.action == Action::kMigrate &&
        after->resources.count(
            Address{change.address.kind, change.address.name, change.from_host})) {
      outcome.remaining.push_back("host (still defined on " + change.from_host + ")");
    }
    if (it == after->resources.end()) {
      outcome.remaining.push_back("ensure");
      continue;
    }
    const ObservedResource& r = it->second;
    const bool domain = change.address.kind == Kind::kDomain;
    for (const AttributeChange& a : DiffResource(change.address.kind, change.desired, r.spec)) {
      outcome.remaining.push_back(a.path);
    }
    if (domain && r.live.is_object()) {
      // What was changed live must be in the running guest now, not only in its config.
      std::set<std::string> changed_live;
      for (const AttributeChange& a : change.attributes) {
        if (a.disruption == Disruption::kLive && IsDomainHardware(a.path))
          changed_live.insert(a.path);
      }
      for (const auto& [key, value] : change.desired.items()) {
        if (!HasComparableLiveValue(key)) continue;
        Json live = Project(r.live.value(key, Json()), value);
        if (live == value) continue;
        if (changed_live.count(key)) {
          outcome.remaining.push_back(key + " (in the running guest: " + RenderValue(live) + ")");
        } else {
          report.pending.push_back(
              {change.address, key, live, Project(r.spec.value(key, Json()), value)});
        }
      }
    }
    outcome.converged = outcome.remaining.empty();
  }
  return report;
}

Json ApplyReportToJson(const ApplyReport& report) {
  Json outcomes = Json::array();
  for (const ResourceOutcome& o : report.outcomes) {
    ErrorCode code = !o.status.ok() ? o.status.error_code()
                     : o.converged  ? ErrorCode::kNone
                                    : ErrorCode::kNotConverged;
    outcomes.push_back(
        {{"address", o.address.ToString()},
         {"action", ActionName(o.action)},
         {"ok", o.status.ok()},
         {"code", code == ErrorCode::kNone ? Json(nullptr) : Json(ErrorCodeName(code))},
         {"transient", IsTransient(code)},
         {"error", o.status.ok() ? Json(nullptr) : Json(o.status.message())},
         {"steps", o.steps},
         {"step_times", StepTimesToJson(o.step_times)},
         {"converged", o.converged},
         {"remaining", o.remaining}});
  }
  return Json{{"ok", report.ok()},
              {"connection_lost", report.connection_lost},
              {"done", report.Done()},
              {"outcomes", outcomes},
              {"pending", PendingToJson(report.pending)},
              {"verification_error",
               report.verification.ok() ? Json(nullptr) : Json(report.verification.message())},
              {"verification_code", report.verification.ok()
                                        ? Json(nullptr)
                                        : Json(ErrorCodeName(report.verification.error_code()))}};
}

}  // namespace vc
