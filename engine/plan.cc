#include "engine/plan.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>

#include "engine/cloud_init.h"
#include "engine/names.h"
#include "engine/version.h"

namespace vc {

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kCreate:
      return "create";
    case Action::kUpdate:
      return "update";
    case Action::kReplace:
      return "replace";
    case Action::kDelete:
      return "delete";
    case Action::kMigrate:
      return "migrate";
  }
  return "?";
}

std::string_view DisruptionName(Disruption disruption) {
  switch (disruption) {
    case Disruption::kNone:
      return "none";
    case Disruption::kLive:
      return "live";
    case Disruption::kRestart:
      return "restart";
    case Disruption::kDestructive:
      return "destructive";
  }
  return "?";
}

Disruption Change::disruption() const {
  Disruption worst = Disruption::kNone;
  for (const AttributeChange& a : attributes) worst = std::max(worst, a.disruption);
  return worst;
}

Json DiagnosticToJson(const Diagnostic& d) {
  Json out = {{"severity", d.severity == Diagnostic::Severity::kError ? "error" : "warning"},
              {"code", ErrorCodeName(d.code)},
              {"transient", IsTransient(d.code)},
              {"address", d.address},
              {"summary", EscapeInvalidUtf8(d.summary)},
              {"detail", EscapeInvalidUtf8(d.detail)}};
  if (!d.related.empty()) out["related"] = d.related;
  return out;
}

Json DiagnosticsToJson(const Diagnostics& diagnostics) {
  Json out = Json::array();
  for (const Diagnostic& d : diagnostics) out.push_back(DiagnosticToJson(d));
  return out;
}

Json PendingToJson(const std::vector<Pending>& pending) {
  Json out = Json::array();
  for (const Pending& p : pending) {
    out.push_back({{"address", p.address.ToString()},
                   {"path", p.path},
                   {"live", p.live},
                   {"config", p.config}});
    if (!p.reason.empty()) out.back()["reason"] = p.reason;
  }
  return out;
}

Json PlanToJson(const Plan& plan) {
  Json changes = Json::array();
  Json summary = {{"create", 0},  {"update", 0}, {"replace", 0}, {"delete", 0},
                  {"migrate", 0}, {"live", 0},   {"restart", 0}, {"destructive", 0}};
  for (const Change& c : plan.changes) {
    Json attributes = Json::array();
    for (const AttributeChange& a : c.attributes) {
      attributes.push_back({{"path", a.path},
                            {"before", a.before},
                            {"after", a.after},
                            {"disruption", DisruptionName(a.disruption)},
                            {"reason", a.reason}});
    }
    Json steps = Json::array();
    for (const Step& step : c.steps) steps.push_back(StepToJson(step));
    // Secrets in a cloud-init seed (its user-data) never leave the engine in a plan.
    changes.push_back(
        RedactSecrets({{"address", c.address.ToString()},
                       {"kind", KindName(c.address.kind)},
                       {"name", c.address.name},
                       {"host", c.address.host.empty() ? Json(nullptr) : Json(c.address.host)},
                       {"from_host", c.from_host.empty() ? Json(nullptr) : Json(c.from_host)},
                       {"action", ActionName(c.action)},
                       {"disruption", DisruptionName(c.disruption())},
                       {"attributes", attributes},
                       {"steps", steps},
                       {"before", c.before},
                       {"desired", c.desired}}));
    std::string action(ActionName(c.action));
    summary[action] = summary[action].get<int>() + 1;
    if (c.disruption() != Disruption::kNone) {
      std::string key(DisruptionName(c.disruption()));
      summary[key] = summary[key].get<int>() + 1;
    }
  }
  Json json = Json{{"format_version", kPlanFormatVersion},
                   {"tool_version", kVersion},
                   {"connection", plan.connection},
                   {"ceph", plan.ceph},
                   {"document", RedactSecrets(plan.document)},
                   {"fingerprint", plan.fingerprint},
                   {"options",
                    {{"allow_destroy", plan.options.allow_destroy},
                     {"allow_restart", plan.options.allow_restart},
                     {"prune", plan.options.prune},
                     {"shutdown_timeout_seconds", plan.options.shutdown_timeout_seconds},
                     {"skip_unreachable", plan.options.skip_unreachable},
                     {"allow_overcommit", plan.options.allow_overcommit}}},
                   {"applyable", plan.applyable()},
                   {"changes", changes},
                   {"pending", PendingToJson(plan.pending)},
                   {"diagnostics", DiagnosticsToJson(plan.diagnostics)},
                   {"summary", summary}};
  if (!plan.hosts.empty()) {
    Json hosts = Json::object();
    for (const auto& [name, uri] : plan.hosts) {
      auto skipped = plan.skipped_hosts.find(name);
      hosts[name] = {
          {"connection", uri},
          {"skipped", skipped == plan.skipped_hosts.end() ? Json(nullptr) : Json(skipped->second)}};
    }
    json["hosts"] = hosts;
    json["capacity"] = plan.capacity.is_object() ? plan.capacity : Json::object();
  }
  json["digest"] = PlanDigest(json);
  return json;
}

std::string PlanDigest(const Json& plan_json) {
  Json rest = plan_json;
  if (rest.is_object()) rest.erase("digest");
  std::string text = rest.dump(-1, ' ', false, Json::error_handler_t::replace);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr) != 1)
    return "sha256:unavailable";
  std::string hex = "sha256:";
  for (unsigned int i = 0; i < size; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

}  // namespace vc
