#include "engine/saved_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "engine/document_parser.h"
#include "engine/json_reader.h"
#include "engine/placement.h"
#include "engine/plan_text.h"

namespace vc {
namespace {

Status Bad(const std::string& field, const std::string& what) {
  return Status::InvalidArgument("saved plan field " + field + ": " + what)
      .WithErrorCode(ErrorCode::kInvalidValue);
}

// The first place `a` and `b` differ, as a path ("changes[2].steps[0].args.mac"); "" if equal.
std::string FirstDifference(const Json& a, const Json& b, const std::string& path) {
  if (a.is_number() && b.is_number()) return a == b ? "" : path;  // 2 and 2u are the same
  if (a.type() != b.type()) return path;
  if (a.is_object()) {
    for (const auto& [key, value] : a.items()) {
      std::string here = path.empty() ? key : path + "." + key;
      if (!b.contains(key)) return here;
      std::string diff = FirstDifference(value, b[key], here);
      if (!diff.empty()) return diff;
    }
    for (const auto& [key, value] : b.items()) {
      if (!a.contains(key)) return path.empty() ? key : path + "." + key;
    }
    return "";
  }
  if (a.is_array()) {
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
      std::string diff = FirstDifference(a[i], b[i], fmt::format("{}[{}]", path, i));
      if (!diff.empty()) return diff;
    }
    return a.size() == b.size() ? "" : fmt::format("{}[{}]", path, std::min(a.size(), b.size()));
  }
  return a == b ? "" : path;
}

// The value at `path` (as FirstDifference writes it), or nullptr. A key holding '.', '[' or ']'
// (the file is untrusted) makes the path ambiguous: the value found may then be another or none.
const Json* At(const Json& json, const std::string& path) {
  const Json* at = &json;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '.') ++i;
    if (path[i] == '[') {
      std::size_t close = path.find(']', i);
      if (close == std::string::npos) return nullptr;
      std::size_t index = 0;
      auto [end, error] = std::from_chars(path.data() + i + 1, path.data() + close, index);
      if (error != std::errc() || end != path.data() + close) return nullptr;
      if (!at->is_array() || index >= at->size()) return nullptr;
      at = &(*at)[index];
      i = close + 1;
      continue;
    }
    std::size_t end = path.find_first_of(".[", i);
    std::string key = path.substr(i, end == std::string::npos ? std::string::npos : end - i);
    if (!at->is_object() || !at->contains(key)) return nullptr;
    at = &(*at)[key];
    i = end == std::string::npos ? path.size() : end;
  }
  return at;
}

std::string Shown(const Json* value) {
  if (value == nullptr) return "(nothing)";
  std::string text = value->dump();
  return text.size() > 120 ? text.substr(0, 117) + "..." : text;
}

}  // namespace

StatusOr<SavedPlan> DecodeSavedPlan(std::string_view text) {
  StatusOr<Json> json = ReadStrictJson(text);
  if (!json.ok())
    return Status::InvalidArgument("not a plan: " + json.status().message())
        .WithErrorCode(ErrorCode::kInvalidDocument);
  const Json& j = *json;
  if (!j.is_object())
    return Status::InvalidArgument("not a plan: a plan is a JSON object")
        .WithErrorCode(ErrorCode::kInvalidDocument);
  auto field = [&](const char* name) -> const Json* {
    auto it = j.find(name);
    return it == j.end() ? nullptr : &*it;
  };
  const Json* version = field("format_version");
  if (version == nullptr || !version->is_number_integer() || *version != kPlanFormatVersion) {
    return Bad("format_version",
               "must be " + std::to_string(kPlanFormatVersion) +
                   " (a plan written by another version of virtconverge: make it again)");
  }
  // An edit anywhere shows here first (a digest, not a signature: it detects changes to the
  // file, while planning again below decides what may run).
  const Json* digest = field("digest");
  if (digest == nullptr || !digest->is_string()) return Bad("digest", "must be a string");
  if (*digest != PlanDigest(j)) {
    return Status::InvalidArgument(
               "the saved plan was edited after it was written (its digest does not match): "
               "plan again")
        .WithErrorCode(ErrorCode::kPlanMismatch);
  }
  SavedPlan saved;
  const Json* connection = field("connection");
  if (connection == nullptr || !connection->is_string())
    return Bad("connection", "must be a string");
  saved.connection = connection->get<std::string>();
  const Json* fingerprint = field("fingerprint");
  if (fingerprint == nullptr || !fingerprint->is_string())
    return Bad("fingerprint", "must be a string");
  saved.fingerprint = fingerprint->get<std::string>();
  const Json* applyable = field("applyable");
  if (applyable == nullptr || !applyable->is_boolean())
    return Bad("applyable", "must be true or false");
  if (!applyable->get<bool>()) {
    return Status::InvalidArgument(
               "the saved plan has errors (applyable is false): fix them and plan again")
        .WithErrorCode(ErrorCode::kInvalidValue);
  }
  const Json* options = field("options");
  if (options == nullptr || !options->is_object()) return Bad("options", "must be an object");
  for (const char* flag : {"allow_destroy", "allow_restart", "prune"}) {
    auto it = options->find(flag);
    if (it == options->end() || !it->is_boolean())
      return Bad(std::string("options.") + flag, "must be true or false");
  }
  auto timeout = options->find("shutdown_timeout_seconds");
  if (timeout == options->end() || !timeout->is_number_integer() || *timeout < 0 ||
      *timeout > 86400) {
    return Bad("options.shutdown_timeout_seconds", "must be an integer from 0 to 86400");
  }
  auto skip = options->find("skip_unreachable");
  if (skip == options->end() || !skip->is_boolean())
    return Bad("options.skip_unreachable", "must be true or false");
  auto overcommit = options->find("allow_overcommit");
  if (overcommit == options->end() || !overcommit->is_boolean())
    return Bad("options.allow_overcommit", "must be true or false");
  saved.options = PlanOptions{(*options)["allow_destroy"].get<bool>(),
                              (*options)["allow_restart"].get<bool>(),
                              (*options)["prune"].get<bool>(),
                              timeout->get<int>(),
                              skip->get<bool>(),
                              overcommit->get<bool>()};
  const Json* ceph = field("ceph");
  if (ceph == nullptr || !(ceph->is_null() || ceph->is_object()))
    return Bad("ceph", "must be null or an object");
  const Json* document = field("document");
  if (document == nullptr || !document->is_object()) return Bad("document", "must be an object");
  // Every rule a document on the command line meets: the file may have been edited.
  Diagnostics diagnostics =
      ParseDocument(document->dump(), "<saved plan document>", &saved.document);
  if (!HasErrors(diagnostics)) {
    Diagnostics limits = CheckLimits(saved.document);
    diagnostics.insert(diagnostics.end(), limits.begin(), limits.end());
    Diagnostics placement = CheckPlacement(saved.document);
    diagnostics.insert(diagnostics.end(), placement.begin(), placement.end());
  }
  for (const Diagnostic& d : diagnostics) {
    if (d.severity == Diagnostic::Severity::kError) {
      return Status::InvalidArgument("saved plan field document: " + d.summary)
          .WithErrorCode(d.code);
    }
  }
  if (*ceph != saved.document.ceph) return Bad("ceph", "differs from the document's ceph section");
  // One host: the URI it was made against. A fleet: its document names every host's.
  if (saved.document.fleet() != saved.connection.empty()) {
    return Bad("connection", saved.document.fleet()
                                 ? "must be empty for a fleet plan (the hosts: section names them)"
                                 : "must be a non-empty string");
  }
  saved.ceph = *ceph;
  saved.json = std::move(*json);
  return saved;
}

PlanOptions ReplanOptions(const SavedPlan& saved, const PlanOptions& run) {
  PlanOptions options = saved.options;
  options.allow_destroy = run.allow_destroy;
  options.allow_restart = run.allow_restart;
  options.prune = run.prune;
  options.allow_overcommit = run.allow_overcommit;
  return options;
}

Status CompareWithSaved(const SavedPlan& saved, const Json& replanned) {
  const Json& options = replanned.at("options");
  auto flag = [&](const char* name) { return options.at(name).get<bool>(); };
  if (saved.options.allow_destroy && !flag("allow_destroy")) {
    return Status::FailedPrecondition(
               "the plan was made with --allow-destroy: apply it with --allow-destroy too")
        .WithErrorCode(ErrorCode::kNeedsAllowDestroy);
  }
  if (saved.options.allow_restart && !flag("allow_restart")) {
    return Status::FailedPrecondition(
               "the plan was made with --allow-restart: apply it with --allow-restart too")
        .WithErrorCode(ErrorCode::kNeedsAllowRestart);
  }
  if (saved.options.prune && !flag("prune")) {
    return Status::FailedPrecondition(
               "the plan was made with --prune, which deletes: apply it with --prune too")
        .WithErrorCode(ErrorCode::kNeedsAllowDestroy);
  }
  if (saved.options.allow_overcommit && !flag("allow_overcommit")) {
    return Status::FailedPrecondition(
               "the plan was made with --allow-overcommit: apply it with --allow-overcommit too")
        .WithErrorCode(ErrorCode::kOverCommitted);
  }
  if (!saved.options.allow_overcommit && flag("allow_overcommit")) {
    return Status::FailedPrecondition(
               "the plan was made without --allow-overcommit: apply it without it, or plan again "
               "with it")
        .WithErrorCode(ErrorCode::kPlanMismatch);
  }
  if (!saved.options.allow_destroy && flag("allow_destroy")) {
    return Status::FailedPrecondition(
               "the plan was made without --allow-destroy: apply it without it, or plan again with "
               "it")
        .WithErrorCode(ErrorCode::kPlanMismatch);
  }
  if (!saved.options.allow_restart && flag("allow_restart")) {
    return Status::FailedPrecondition(
               "the plan was made without --allow-restart: apply it without it, or plan again with "
               "it")
        .WithErrorCode(ErrorCode::kPlanMismatch);
  }
  if (!saved.options.prune && flag("prune")) {
    return Status::FailedPrecondition(
               "the plan was made without --prune: apply it without it, or plan again with it")
        .WithErrorCode(ErrorCode::kPlanMismatch);
  }
  if (replanned.value("fingerprint", "") != saved.fingerprint) {
    return Status::FailedPrecondition("the host changed since the plan was made (fingerprint " +
                                      saved.fingerprint + ", now " +
                                      replanned.value("fingerprint", "") + "): plan again")
        .WithErrorCode(ErrorCode::kChangedSincePlan);
  }
  // Every field counts, diagnostics too: an applyable plan has warnings at most, and none is
  // made today. (A warning naming the file a plan was made from would not survive planning
  // again from the recorded document; such a plan would be refused here, not misapplied.)
  const Json& mine = replanned;
  const Json& theirs = saved.json;
  std::string diff = FirstDifference(theirs, mine, "");
  if (diff.empty()) return Status::Ok();
  if (diff.rfind("capacity.", 0) == 0) {
    // What the hosts commit is observed, not declared: a guest started, defined or ballooned
    // there since the plan (the fingerprint covers only what the plan changes).
    return Status::FailedPrecondition("the hosts changed since the plan was made: " + diff +
                                      " is " + Shown(At(theirs, diff)) + " in the plan but " +
                                      Shown(At(mine, diff)) + " now: plan again")
        .WithErrorCode(ErrorCode::kChangedSincePlan);
  }
  return Status::FailedPrecondition(
             "the saved plan is not what its document gives on this host: " + diff + " is " +
             Shown(At(theirs, diff)) + " in the file but " + Shown(At(mine, diff)) +
             " when planned again (edited, or made by another version?): plan again")
      .WithErrorCode(ErrorCode::kPlanMismatch);
}

}  // namespace vc
