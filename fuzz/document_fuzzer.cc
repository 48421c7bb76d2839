// libFuzzer target: one desired-state document (YAML or JSON, untrusted) read as `validate`,
// `plan` and `apply` read it. ParseDocument, then, when it has no errors, the checks between
// fields and references (CheckLimits, CheckNeedsCeph, CheckReferences against an empty host) and
// the round trip a saved plan relies on: the canonical JSON form (DocumentToJson) parsed again
// gives the same document. Crashes, leaks, sanitizer reports, uncaught exceptions and a failed
// round trip are findings. See scripts/fuzz.sh and docs/reliability.md.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/document_json.h"
#include "engine/document_parser.h"
#include "engine/plan.h"

namespace {

std::string Dump(const vc::Json& json) {
  return json.dump(-1, ' ', false, vc::Json::error_handler_t::replace);
}

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "document_fuzzer: %s\n%s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  vc::Document doc;
  vc::Diagnostics diagnostics = vc::ParseDocument(text, "<fuzz>", &doc);
  (void)Dump(vc::DiagnosticsToJson(diagnostics));  // as validate --format json prints them
  if (vc::HasErrors(diagnostics)) return 0;
  (void)vc::CheckLimits(doc);
  (void)vc::CheckNeedsCeph(doc);
  (void)vc::CheckReferences(doc, vc::ObservedState{});

  // A plan records the document in this form; apply --plan parses it again (as JSON).
  const std::string canonical = Dump(vc::DocumentToJson(doc));
  vc::Document again;
  vc::Diagnostics reread = vc::ParseDocument(canonical, "<canonical>.json", &again);
  if (vc::HasErrors(reread))
    Fail("the canonical form does not parse",
         canonical + "\n" + Dump(vc::DiagnosticsToJson(reread)));
  if (Dump(vc::DocumentToJson(again)) != canonical) {
    Fail("the canonical form parses into another document",
         canonical + "\n" + Dump(vc::DocumentToJson(again)));
  }
  return 0;
}
