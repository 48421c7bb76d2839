#include "engine/error_code.h"

#include <array>
#include <utility>

namespace vc {
namespace {

constexpr std::array<std::pair<ErrorCode, std::string_view>, 24> kNames = {{
    {ErrorCode::kNone, ""},
    {ErrorCode::kInvalidDocument, "invalid_document"},
    {ErrorCode::kUnknownField, "unknown_field"},
    {ErrorCode::kInvalidValue, "invalid_value"},
    {ErrorCode::kMissingField, "missing_field"},
    {ErrorCode::kDuplicate, "duplicate"},
    {ErrorCode::kMissingReference, "missing_reference"},
    {ErrorCode::kUnsupported, "unsupported"},
    {ErrorCode::kInUse, "in_use"},
    {ErrorCode::kNeedsAllowDestroy, "needs_allow_destroy"},
    {ErrorCode::kNeedsAllowRestart, "needs_allow_restart"},
    {ErrorCode::kOverCommitted, "over_committed"},
    {ErrorCode::kChangedSincePlan, "changed_since_plan"},
    {ErrorCode::kPlanMismatch, "plan_mismatch"},
    {ErrorCode::kConnectionFailed, "connection_failed"},
    {ErrorCode::kConnectionLost, "connection_lost"},
    {ErrorCode::kCephUnavailable, "ceph_unavailable"},
    {ErrorCode::kHostBusy, "host_busy"},
    {ErrorCode::kTimeout, "timeout"},
    {ErrorCode::kNotFound, "not_found"},
    {ErrorCode::kSkipped, "skipped"},
    {ErrorCode::kNotConverged, "not_converged"},
    {ErrorCode::kOperationFailed, "operation_failed"},
    {ErrorCode::kInternal, "internal"},
}};

}  // namespace

std::string_view ErrorCodeName(ErrorCode code) {
  for (const auto& [c, name] : kNames) {
    if (c == code) return name;
  }
  return "internal";
}

std::optional<ErrorCode> ErrorCodeFromName(std::string_view name) {
  for (const auto& [c, n] : kNames) {
    if (n == name && c != ErrorCode::kNone) return c;
  }
  return std::nullopt;
}

bool IsTransient(ErrorCode code) {
  return code == ErrorCode::kConnectionFailed || code == ErrorCode::kConnectionLost ||
         code == ErrorCode::kCephUnavailable || code == ErrorCode::kHostBusy ||
         code == ErrorCode::kTimeout;
}

}  // namespace vc
