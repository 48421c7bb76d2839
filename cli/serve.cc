// `virtconverge serve`: one long-lived engine process for Puppet and Salt. One JSON request per
// line on stdin, one JSON response per line on stdout, one libvirt connection per URI for the
// whole session; see docs/serve.md. Every request is decoded into a typed request with every
// field checked; a bad one gets an error response with its id, and the session goes on.
#include <iostream>
#include <optional>
#include <string>

#include "cli/backup_runner.h"
#include "cli/commands.h"
#include "cli/driver.h"
#include "cli/serve_request.h"
#include "engine/document_parser.h"
#include "engine/export.h"
#include "engine/json_reader.h"
#include "engine/names.h"
#include "engine/placement.h"
#include "engine/plan.h"
#include "engine/plan_text.h"
#include "engine/version.h"

namespace vc::cli {
namespace {

// A request line longer than this is refused unparsed (a document is at most kMaxDocumentBytes).
constexpr std::size_t kMaxRequestBytes = kMaxDocumentBytes + (std::size_t{1} << 20);

Json Ok(Json result) { return {{"ok", true}, {"result", std::move(result)}}; }

Json Error(const Status& status) {
  return {{"ok", false},
          {"error", EscapeInvalidUtf8(status.message())},
          {"code", ErrorCodeName(status.error_code())},
          {"transient", status.transient()}};
}

class Session {
 public:
  Json Handle(const Request& request, int line) {
    if (request.command == "version") return Ok({{"version", kVersion}});
    if (request.command == "observe") return Observe(request);
    if (request.command == "backup") {
      StatusOr<Json> backup = RunBackup(ResolveConnection(request.connection, ""), request.backup);
      return backup.ok() ? Ok({{"backup", *backup}}) : Error(backup.status());
    }
    Document doc;
    Diagnostics diagnostics =
        ParseDocument(request.document.dump(), "<request " + std::to_string(line) + ">", &doc);
    if (!HasErrors(diagnostics)) {
      Diagnostics limits = CheckLimits(doc);
      diagnostics.insert(diagnostics.end(), limits.begin(), limits.end());
      Diagnostics placement = CheckPlacement(doc);
      diagnostics.insert(diagnostics.end(), placement.begin(), placement.end());
    }
    if (request.command == "validate" && !HasErrors(diagnostics)) {
      Diagnostics ceph = CheckNeedsCeph(doc);  // what needs no host
      diagnostics.insert(diagnostics.end(), ceph.begin(), ceph.end());
    }
    if (request.command == "validate" || HasErrors(diagnostics)) {
      return Ok(
          {{"valid", !HasErrors(diagnostics)}, {"diagnostics", DiagnosticsToJson(diagnostics)}});
    }
    // An apply holds the host's lock from before it observes until its last step.
    const LockPolicy lock{"serve apply", std::chrono::seconds(request.lock_wait_seconds)};
    StatusOr<Driver::Run> run = driver_.PlanDocument(doc, request.connection, request.plan_options,
                                                     request.command == "apply" ? &lock : nullptr);
    if (!run.ok()) return Error(run.status());
    Json plan_json = PlanToJson(run->plan);
    Json result = {{"plan", plan_json}};
    if (!run->busy.empty()) result["busy"] = run->busy;
    if (request.text) result["text"] = RenderPlanText(plan_json, TextStyle{});
    if (request.command == "plan") return Ok(result);
    if (!run->plan.applyable() || run->plan.empty()) {
      result["apply"] = nullptr;
      return Ok(result);
    }
    ApplyOptions options;
    options.parallelism = request.parallelism;
    result["apply"] = ApplyReportToJson(driver_.Apply(*run, options, nullptr));
    return Ok(result);
  }

 private:
  Json Observe(const Request& request) {
    StatusOr<Backends*> backends =
        driver_.Open(ResolveConnection(request.connection, ""), request.ceph);
    if (!backends.ok()) return Error(backends.status());
    StatusOr<ObservedState> observed = (*backends)->provider().ObserveAll();
    if (!observed.ok()) return Error(observed.status());
    // The host's figures and KSM are not part of the document: they are the host's.
    return Ok({{"document", ExportDocument(*observed, request.ceph)},
               {"pending", PendingNotes(*observed)},
               {"pending_changes", PendingToJson(PendingChanges(*observed))},
               {"host", HostFigures((*backends)->provider())}});
  }

  Driver driver_;
};

// The response to one line. Never throws: whatever goes wrong becomes an error response.
Json Respond(Session& session, const std::string& line, int number) {
  Json id;
  try {
    if (line.size() > kMaxRequestBytes) {
      return Error(Status::InvalidArgument("line " + std::to_string(number) + " is longer than " +
                                           std::to_string(kMaxRequestBytes) + " bytes")
                       .WithErrorCode(ErrorCode::kInvalidDocument));
    }
    StatusOr<Json> json = ReadStrictJson(line);
    if (!json.ok()) {
      return Error(Status::InvalidArgument("line " + std::to_string(number) +
                                           " is not a JSON request: " + json.status().message())
                       .WithErrorCode(ErrorCode::kInvalidDocument));
    }
    if (!json->is_object()) {
      return Error(
          Status::InvalidArgument("line " + std::to_string(number) + " is not a JSON object")
              .WithErrorCode(ErrorCode::kInvalidDocument));
    }
    if (json->contains("id") && ((*json)["id"].is_number_integer() || (*json)["id"].is_string()))
      id = (*json)["id"];
    StatusOr<Request> request = DecodeRequest(*json);
    Json response = request.ok() ? session.Handle(*request, number) : Error(request.status());
    response["id"] = id;
    return response;
  } catch (const std::exception& e) {
    Json response = Error(Status::Internal(std::string("internal error: ") + e.what())
                              .WithErrorCode(ErrorCode::kInternal));
    response["id"] = id;
    return response;
  }
}

}  // namespace

int Serve(const Args& args) {
  if (!args.empty()) {
    std::cout
        << "usage: virtconverge serve\n\nRead one JSON request per line on stdin, write one JSON "
           "response per line on stdout,\nuntil end of input. Requests:\n"
           "  {\"id\": 1, \"command\": \"validate\"|\"plan\"|\"apply\", \"document\": {...},\n"
           "   \"options\": {\"connection\": URI, \"allow_destroy\": false, \"allow_restart\": "
           "false,\n"
           "                \"prune\": false, \"parallelism\": 4, \"shutdown_timeout\": 60, "
           "\"text\": false,\n"
           "                \"skip_unreachable\": false, \"allow_overcommit\": false}}\n"
           "  {\"id\": 2, \"command\": \"observe\", \"options\": {\"connection\": URI,\n"
           "                                     \"ceph\": {\"conf\": PATH, \"user\": NAME}}}\n"
           "  {\"id\": 3, \"command\": \"backup\", \"backup\": {\"domain\": NAME, \"to\": DIR,\n"
           "                                    \"incremental\": false, \"timeout\": 3600},\n"
           "   \"options\": {\"connection\": URI}}\n"
           "  {\"id\": 4, \"command\": \"version\"}\n"
           "Responses: {\"id\": ..., \"ok\": true, \"result\": {...}} or {\"id\": ..., \"ok\": "
           "false, "
           "\"error\": \"...\", \"code\": \"...\", \"transient\": bool}.\nSee docs/serve.md.\n";
    return args[0] == "--help" || args[0] == "-h" ? 0 : 1;
  }
  Session session;
  std::string line;
  int number = 0;
  while (std::getline(std::cin, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::cout << Respond(session, line, number).dump(-1, ' ', false, Json::error_handler_t::replace)
              << "\n"
              << std::flush;
  }
  return 0;
}

}  // namespace vc::cli
