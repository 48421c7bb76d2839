// The bodies of `virtconverge server`'s requests (docs/api.md), decoded into typed requests with
// every field checked. Apart from the server so they can be tested and fuzzed without a socket.
#pragma once

#include <string>
#include <string_view>

#include "engine/plan.h"
#include "engine/status.h"

namespace vc::cli {

/// POST /v1/plans: the document's text (YAML or JSON, read by the document parser) and the plan
/// options.
struct PlanRequest {
  std::string document;
  PlanOptions options;
};

/// `body` as `content_type` says: application/json is {"document": object or text, "options":
/// {...}} read strictly; application/yaml (or text/yaml, application/x-yaml) is the document
/// itself with default options. InvalidArgument naming the field otherwise (invalid_value,
/// unknown_field for a field or option it does not know).
StatusOr<PlanRequest> DecodePlanRequest(std::string_view body, std::string_view content_type);

/// POST /v1/plans/{id}/apply: the apply run's allows {"allow_destroy", "allow_restart",
/// "prune", "allow_overcommit"} (booleans, default false); an empty body allows nothing.
/// Only the allow flags of the result are set.
StatusOr<PlanOptions> DecodeApplyRequest(std::string_view body, std::string_view content_type);

/// POST /v1/backups: {"domain", "name" (the backup directory under the server's --backup-dir, a
/// plain name), "incremental"?}. Both names are checked like resource names (no '/', no "..").
struct BackupApiRequest {
  std::string domain;
  std::string name;
  bool incremental = false;
};
StatusOr<BackupApiRequest> DecodeBackupRequest(std::string_view body,
                                               std::string_view content_type);

/// The media type of a Content-Type header: lower case, without parameters or spaces.
std::string MediaType(std::string_view content_type);

}  // namespace vc::cli
