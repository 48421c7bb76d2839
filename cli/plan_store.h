// The plans `virtconverge server` holds (docs/api.md): each proposed document's JSON plan, kept
// in memory under an id until it is applied or forgotten, with the status and log of its apply.
// Thread-safe: request threads read and add, the apply thread appends to the log, and event
// streams wait for new lines.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/resource.h"

namespace vc::cli {

/// planned → applying → applied | failed; planned → refused (the apply was refused before any
/// change, the log says why; the plan may be applied again once that is fixed).
enum class PlanStatus { kPlanned, kApplying, kApplied, kFailed, kRefused };

std::string_view PlanStatusName(PlanStatus status);

/// A copy of one stored plan, as the API shows it.
struct PlanRecord {
  std::string id;
  std::string created;  // RFC 3339, UTC
  PlanStatus status = PlanStatus::kPlanned;
  Json plan;         // the JSON plan, exactly as saved (PlanToJson)
  std::string text;  // rendered from `plan`
  Json apply;        // the apply report (ApplyReportToJson), or null
  std::vector<std::string> log;
};

class PlanStore {
 public:
  explicit PlanStore(std::size_t capacity) : capacity_(capacity) {}

  /// Stores `plan` under a new random id and returns the id. When full, the oldest plan that is
  /// not applying is forgotten.
  std::string Add(Json plan, std::string text);

  std::optional<PlanRecord> Get(const std::string& id) const;

  /// What a listing shows of a plan (not the plan itself: a listing stays small).
  struct Summary {
    std::string id;
    std::string created;
    PlanStatus status;
    bool applyable;
    Json summary;  // the plan's `summary`
  };
  /// Every plan, newest first.
  std::vector<Summary> List() const;

  std::size_t Size() const;

  /// Moves `id` from planned (or refused) to applying; false when it is not there or another
  /// status (applying, applied, failed): a plan is applied once.
  bool StartApply(const std::string& id);

  void AppendLog(const std::string& id, const std::string& line);

  /// Ends an apply: `status` (applied, failed or refused) and the report (null when refused).
  /// Only a plan that is applying changes.
  void Finish(const std::string& id, PlanStatus status, Json apply);

  /// The log lines of `id` from index `from` on, waiting up to `wait` for one when there is none
  /// yet and the apply is still running. nullopt when the plan is unknown.
  struct Tail {
    std::vector<std::string> lines;
    PlanStatus status;
    Json apply;
  };
  std::optional<Tail> WaitForLog(const std::string& id, std::size_t from,
                                 std::chrono::milliseconds wait) const;

 private:
  struct Entry {
    PlanRecord record;
    std::uint64_t sequence = 0;
  };
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::map<std::string, Entry> plans_;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace vc::cli
