// libFuzzer target: `virtconverge serve` input (untrusted), one request per line, decoded as the
// session decodes it (cli/serve.cc): the strict JSON reader, DecodeRequest (cli/serve_request.h)
// and, for the commands that take a document, the document read (every command) and checked
// (validate) as the session does; the response is built and serialised as serve writes it. No
// libvirt connection is opened: planning and applying are not fuzzed here
// (fuzz/saved_plan_fuzzer.cc plans against an empty host).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cli/serve_request.h"
#include "engine/document_parser.h"
#include "engine/error_code.h"
#include "engine/json_reader.h"
#include "engine/names.h"
#include "engine/plan.h"

namespace {

vc::Json Error(const vc::Status& status) {
  return {{"ok", false},
          {"error", vc::EscapeInvalidUtf8(status.message())},
          {"code", vc::ErrorCodeName(status.error_code())},
          {"transient", status.transient()}};
}

vc::Json Respond(const std::string& line) {
  vc::StatusOr<vc::Json> json = vc::ReadStrictJson(line);
  if (!json.ok()) return Error(json.status());
  if (!json->is_object()) return Error(vc::Status::InvalidArgument("not a JSON object"));
  vc::StatusOr<vc::cli::Request> request = vc::cli::DecodeRequest(*json);
  if (!request.ok()) return Error(request.status());
  if (request->command != "validate" && request->command != "plan" && request->command != "apply") {
    return {{"ok", true}, {"result", {{"command", request->command}}}};
  }
  vc::Document doc;
  vc::Diagnostics diagnostics = vc::ParseDocument(request->document.dump(), "<request 1>", &doc);
  if (!vc::HasErrors(diagnostics)) {
    vc::Diagnostics limits = vc::CheckLimits(doc);
    diagnostics.insert(diagnostics.end(), limits.begin(), limits.end());
  }
  if (request->command == "validate" && !vc::HasErrors(diagnostics)) {
    vc::Diagnostics ceph = vc::CheckNeedsCeph(doc);
    diagnostics.insert(diagnostics.end(), ceph.begin(), ceph.end());
  }
  return {{"ok", true},
          {"result",
           {{"valid", !vc::HasErrors(diagnostics)},
            {"diagnostics", vc::DiagnosticsToJson(diagnostics)}}}};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t start = 0;
  while (start <= input.size()) {  // lines as std::getline splits them
    std::size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    std::string line(input.substr(start, end - start));
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    vc::Json response = Respond(line);
    response["id"] = nullptr;
    (void)response.dump(-1, ' ', false, vc::Json::error_handler_t::replace);
  }
  return 0;
}
