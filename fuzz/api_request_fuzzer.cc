// libFuzzer target: `virtconverge server` request bodies (untrusted), decoded as the server
// decodes them (cli/server.cc): the input's first line is the Content-Type header, the rest the
// body, given to DecodePlanRequest (cli/api_request.h) and DecodeApplyRequest; a decoded plan
// request's document is read and checked as the server does before planning; the error answer
// is built and serialised. No socket and no libvirt connection.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cli/api_request.h"
#include "engine/document_parser.h"
#include "engine/error_code.h"
#include "engine/names.h"
#include "engine/placement.h"
#include "engine/plan.h"

namespace {

std::string Answer(const vc::Status& status) {
  vc::Json body = {{"error",
                    {{"code", vc::ErrorCodeName(status.error_code())},
                     {"message", vc::EscapeInvalidUtf8(status.message())},
                     {"transient", status.transient()}}}};
  return body.dump(-1, ' ', false, vc::Json::error_handler_t::replace);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  const std::string_view content_type = input.substr(0, newline);
  const std::string_view body =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  vc::StatusOr<vc::PlanOptions> allows = vc::cli::DecodeApplyRequest(body, content_type);
  if (!allows.ok()) (void)Answer(allows.status());
  vc::StatusOr<vc::cli::PlanRequest> request = vc::cli::DecodePlanRequest(body, content_type);
  if (!request.ok()) {
    (void)Answer(request.status());
    return 0;
  }
  vc::Document doc;
  vc::Diagnostics diagnostics = vc::ParseDocument(request->document, "<request>", &doc);
  if (!vc::HasErrors(diagnostics)) {
    vc::Diagnostics limits = vc::CheckLimits(doc);
    diagnostics.insert(diagnostics.end(), limits.begin(), limits.end());
    vc::Diagnostics placement = vc::CheckPlacement(doc);
    diagnostics.insert(diagnostics.end(), placement.begin(), placement.end());
  }
  (void)vc::DiagnosticsToJson(diagnostics).dump(-1, ' ', false, vc::Json::error_handler_t::replace);
  return 0;
}
