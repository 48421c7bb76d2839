// A saved plan (`plan --out`) read back for `apply --plan`. The file is untrusted: apply does not
// run what it says. It takes the document, options and connection the plan records, checks them
// like any input, plans them again against the host as it is now, and runs that plan only if it
// is identical to the saved one, steps and fingerprint included.
#pragma once

#include <string>
#include <string_view>

#include "engine/plan.h"

namespace vc {

struct SavedPlan {
  Json json;  // the whole saved plan, as read
  Document document;
  std::string connection;
  Json ceph;  // null or {"conf", "user"}
  PlanOptions options;
  std::string fingerprint;
};

/// Reads a saved plan: strict JSON, this format version, every recorded input of the right
/// type, the document valid by every document rule. InvalidArgument naming the field otherwise.
StatusOr<SavedPlan> DecodeSavedPlan(std::string_view text);

/// The options to plan again with: the allow flags of the apply run (`run`'s allow_destroy,
/// allow_restart, prune and allow_overcommit), the rest as saved.
PlanOptions ReplanOptions(const SavedPlan& saved, const PlanOptions& run);

/// Ok when `replanned` (PlanToJson of the plan made again) is the saved plan. Otherwise an error
/// naming the first difference: changed_since_plan when the host moved (the fingerprint
/// differs), needs_allow_destroy / needs_allow_restart / over_committed when the run lacks a
/// flag the plan was made with, plan_mismatch for any other difference in any field (the file was
/// edited, or another version made it).
Status CompareWithSaved(const SavedPlan& saved, const Json& replanned);

}  // namespace vc
