// Stable, machine-readable codes for diagnostics and apply outcomes. Front ends (Puppet, Salt, the
// HTTP API) branch on these, never on message text; the names are part of the JSON contract
// (schemas/plan.schema.json) and never change meaning.
#pragma once

#include <optional>
#include <string_view>

namespace vc {

enum class ErrorCode {
  kNone,               // not an error (an Ok status)
  kInvalidDocument,    // not a readable document: syntax, not a mapping, too big, too deep
  kUnknownField,       // a field the schema does not have
  kInvalidValue,       // a field whose value the schema or an engine rule rejects
  kMissingField,       // a required field is absent
  kDuplicate,          // declared twice: a resource, a key, a disk target, a MAC
  kMissingReference,   // refers to a resource neither declared nor on the host
  kUnsupported,        // valid, but this version cannot carry it out (a network mode)
  kInUse,              // cannot delete or shrink: something that stays uses it
  kNeedsAllowDestroy,  // destructive change without --allow-destroy
  kNeedsAllowRestart,  // a restart the run was not allowed to make
  kOverCommitted,      // takes a host over its capacity limits without --allow-overcommit
  kChangedSincePlan,   // the host is not as the plan saw it
  kPlanMismatch,       // a saved plan is not what its own document gives on this host
  kConnectionFailed,   // transient: libvirtd cannot be reached
  kConnectionLost,     // transient: the connection broke during the run
  kCephUnavailable,    // transient: the Ceph cluster cannot be reached
  kHostBusy,           // transient: another run holds the host's lock
  kTimeout,            // transient: a daemon did not answer within its deadline
  kNotFound,           // a resource the step needs is not there
  kSkipped,            // not attempted because a resource it depends on failed
  kNotConverged,       // applied, but observation still differs
  kOperationFailed,    // the daemon refused or failed a step
  kInternal,           // a bug or an impossible answer
};

/// "invalid_document", "needs_allow_destroy", ... ("" for kNone).
std::string_view ErrorCodeName(ErrorCode code);
std::optional<ErrorCode> ErrorCodeFromName(std::string_view name);

/// Whether retrying later may succeed without changing anything (daemon down or busy).
bool IsTransient(ErrorCode code);

}  // namespace vc
