// Problems found while reading documents or planning, collected rather than thrown at the first.
#pragma once

#include <string>
#include <vector>

#include "engine/error_code.h"

namespace vc {

struct Diagnostic {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  ErrorCode code = ErrorCode::kInvalidValue;
  std::string address;  // "domain.web1", or "" for the document as a whole
  std::string summary;  // one line, names the file:line:column and field when known
  std::string detail;   // optional second explanation, e.g. "did you mean 'vcpus'?"
  std::string related;  // another resource it is about (the missing reference, the user), or ""
};

using Diagnostics = std::vector<Diagnostic>;

inline bool HasErrors(const Diagnostics& diagnostics) {
  for (const Diagnostic& d : diagnostics) {
    if (d.severity == Diagnostic::Severity::kError) return true;
  }
  return false;
}

/// An error diagnostic.
inline Diagnostic ErrorDiagnostic(ErrorCode code, std::string address, std::string summary,
                                  std::string detail = "", std::string related = "") {
  return Diagnostic{Diagnostic::Severity::kError,
                    code,
                    std::move(address),
                    std::move(summary),
                    std::move(detail),
                    std::move(related)};
}

}  // namespace vc
