// Problems found while reading documents or planning, collected rather than thrown at the first.
#pragma once

#include <string>
#include <vector>

namespace vc {

struct Diagnostic {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  std::string address;  // "domain.web1", or "" for the document as a whole
  std::string summary;  // one line, names the file:line:column and field when known
  std::string detail;   // optional second explanation, e.g. "did you mean 'vcpus'?"
};

using Diagnostics = std::vector<Diagnostic>;

inline bool HasErrors(const Diagnostics& diagnostics) {
  for (const Diagnostic& d : diagnostics) {
    if (d.severity == Diagnostic::Severity::kError) return true;
  }
  return false;
}

}  // namespace vc
