// `virtconverge serve`: one long-lived engine process for Puppet and Salt. One JSON request per
// line on stdin, one JSON response per line on stdout, one libvirt connection per URI for the
// whole session; see docs/serve.md.
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "engine/applier.h"
#include "engine/document_parser.h"
#include "engine/export.h"
#include "engine/plan.h"
#include "engine/planner.h"
#include "engine/version.h"
#include "cli/backends.h"

namespace vc::cli {
namespace {

Json DiagnosticsToJson(const Diagnostics& diagnostics) {
  Json out = Json::array();
  for (const Diagnostic& d : diagnostics) {
    out.push_back({{"severity", d.severity == Diagnostic::Severity::kError ? "error" : "warning"},
                   {"address", d.address},
                   {"summary", d.summary},
                   {"detail", d.detail}});
  }
  return out;
}

class Session {
 public:
  Json Handle(const Json& request, int line) {
    std::string command = request.value("command", "");
    const Json options = request.value("options", Json::object());
    if (command == "version") return Ok({{"version", kVersion}});
    if (command == "validate" || command == "plan" || command == "apply") {
      Document doc;
      Diagnostics diagnostics;
      if (!request.contains("document") || !request["document"].is_object()) {
        return Error("request needs a 'document' object");
      }
      diagnostics = ParseDocument(request["document"].dump(), "<request " + std::to_string(line) + ">", &doc);
      if (!HasErrors(diagnostics)) {
        Diagnostics limits = CheckLimits(doc);
        diagnostics.insert(diagnostics.end(), limits.begin(), limits.end());
      }
      if (command == "validate" || HasErrors(diagnostics)) {
        return Ok({{"valid", !HasErrors(diagnostics)}, {"diagnostics", DiagnosticsToJson(diagnostics)}});
      }
      return PlanOrApply(command, doc, options);
    }
    if (command == "observe") {
      StatusOr<Provider*> provider = ProviderFor(options.value("connection", ""), options.value("ceph", Json()));
      if (!provider.ok()) return Error(provider.status().message());
      StatusOr<ObservedState> observed = (*provider)->ObserveAll();
      if (!observed.ok()) return Error(observed.status().message());
      Json pending = Json::array();
      for (const Pending& p : PendingChanges(*observed)) {
        pending.push_back({{"address", p.address.ToString()}, {"path", p.path}, {"live", p.live},
                           {"config", p.config}});
      }
      return Ok({{"document", ExportDocument(*observed, options.value("ceph", Json()))},
                 {"pending", PendingNotes(*observed)},
                 {"pending_changes", pending}});
    }
    return Error("unknown command '" + command + "' (validate, plan, apply, observe, version)");
  }

 private:
  static Json Ok(Json result) { return {{"ok", true}, {"result", std::move(result)}}; }
  static Json Error(const std::string& message) { return {{"ok", false}, {"error", message}}; }

  StatusOr<Provider*> ProviderFor(std::string uri, const Document& doc) {
    if (uri.empty()) uri = doc.connection;
    return ProviderFor(uri, doc.ceph);
  }

  StatusOr<Provider*> ProviderFor(std::string uri, Json ceph) {
    if (ceph.is_object() && !ceph.contains("user")) ceph["user"] = "admin";  // one key per cluster
    if (uri.empty()) {
      const char* env = std::getenv("LIBVIRT_DEFAULT_URI");
      uri = env != nullptr && *env != '\0' ? env : "qemu:///system";
    }
    std::string key = uri + "|" + ceph.dump();
    auto it = backends_.find(key);
    if (it != backends_.end()) return &it->second->provider();
    StatusOr<std::unique_ptr<Backends>> opened = Backends::Open(uri, ceph);
    if (!opened.ok()) return opened.status();
    Provider* provider = &(*opened)->provider();
    backends_.emplace(key, std::move(*opened));
    return provider;
  }

  Json PlanOrApply(const std::string& command, const Document& doc, const Json& options) {
    StatusOr<Provider*> provider = ProviderFor(options.value("connection", ""), doc);
    if (!provider.ok()) return Error(provider.status().message());
    PlanOptions plan_options{options.value("allow_destroy", false), options.value("allow_restart", false),
                             options.value("prune", false)};
    StatusOr<ObservedState> observed = ObserveFor(doc, plan_options, **provider);
    if (!observed.ok()) return Error(observed.status().message());
    Plan plan = ComputePlan(doc, *observed, plan_options);
    Json plan_json = PlanToJson(plan);
    if (command == "plan") return Ok({{"plan", plan_json}});
    if (!plan.applyable() || plan.empty()) return Ok({{"plan", plan_json}, {"apply", nullptr}});
    ApplyOptions apply_options;
    apply_options.parallelism = std::clamp(options.value("parallelism", 4), 1, 64);
    apply_options.shutdown_timeout_seconds = std::max(0, options.value("shutdown_timeout", 60));
    ApplyReport report = ApplyPlan(plan, *observed, **provider, apply_options, nullptr);
    return Ok({{"plan", plan_json}, {"apply", ApplyReportToJson(report)}});
  }

  std::map<std::string, std::unique_ptr<Backends>> backends_;  // by URI and ceph section
};

}  // namespace

int Serve(const Args& args) {
  if (!args.empty()) {
    std::cout << "usage: virtconverge serve\n\nRead one JSON request per line on stdin, write one JSON "
                 "response per line on stdout,\nuntil end of input. Requests:\n"
                 "  {\"id\": 1, \"command\": \"validate\"|\"plan\"|\"apply\", \"document\": {...},\n"
                 "   \"options\": {\"connection\": URI, \"allow_destroy\": false, \"allow_restart\": false,\n"
                 "                \"prune\": false, \"parallelism\": 4, \"shutdown_timeout\": 60}}\n"
                 "  {\"id\": 2, \"command\": \"observe\", \"options\": {\"connection\": URI,\n"
                 "                                     \"ceph\": {\"conf\": PATH, \"user\": NAME}}}\n"
                 "Responses: {\"id\": ..., \"ok\": true, \"result\": {...}} or {\"id\": ..., \"ok\": false, "
                 "\"error\": \"...\"}.\nSee docs/serve.md.\n";
    return args[0] == "--help" || args[0] == "-h" ? 0 : 1;
  }
  Session session;
  std::string line;
  int number = 0;
  while (std::getline(std::cin, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json request = Json::parse(line, nullptr, false);
    Json response;
    if (request.is_discarded() || !request.is_object()) {
      response = {{"ok", false}, {"error", "line " + std::to_string(number) + " is not a JSON object"}};
    } else {
      response = session.Handle(request, number);
      if (request.contains("id")) response["id"] = request["id"];
    }
    std::cout << response.dump() << "\n" << std::flush;
  }
  return 0;
}

}  // namespace vc::cli
