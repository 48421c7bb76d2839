#include "engine/plan.h"

#include <algorithm>

#include "engine/version.h"

namespace vc {
namespace {

template <typename Enum, std::size_t N>
std::optional<Enum> FromName(std::string_view name, const Enum (&values)[N],
                             std::string_view (*to_name)(Enum)) {
  for (Enum v : values) {
    if (to_name(v) == name) return v;
  }
  return std::nullopt;
}

constexpr Action kActions[] = {Action::kCreate, Action::kUpdate, Action::kReplace, Action::kDelete};
constexpr Disruption kDisruptions[] = {Disruption::kNone, Disruption::kLive, Disruption::kRestart,
                                       Disruption::kDestructive};

std::string_view SeverityName(Diagnostic::Severity s) {
  return s == Diagnostic::Severity::kError ? "error" : "warning";
}

}  // namespace

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kCreate: return "create";
    case Action::kUpdate: return "update";
    case Action::kReplace: return "replace";
    case Action::kDelete: return "delete";
  }
  return "?";
}

std::string_view DisruptionName(Disruption disruption) {
  switch (disruption) {
    case Disruption::kNone: return "none";
    case Disruption::kLive: return "live";
    case Disruption::kRestart: return "restart";
    case Disruption::kDestructive: return "destructive";
  }
  return "?";
}

Disruption Change::disruption() const {
  Disruption worst = Disruption::kNone;
  for (const AttributeChange& a : attributes) worst = std::max(worst, a.disruption);
  return worst;
}

Json PlanToJson(const Plan& plan) {
  Json changes = Json::array();
  Json summary = {{"create", 0}, {"update", 0}, {"replace", 0}, {"delete", 0},
                  {"live", 0},   {"restart", 0}, {"destructive", 0}};
  for (const Change& c : plan.changes) {
    Json attributes = Json::array();
    for (const AttributeChange& a : c.attributes) {
      attributes.push_back({{"path", a.path},
                            {"before", a.before},
                            {"after", a.after},
                            {"disruption", DisruptionName(a.disruption)},
                            {"reason", a.reason}});
    }
    changes.push_back({{"address", c.address.ToString()},
                       {"kind", KindName(c.address.kind)},
                       {"name", c.address.name},
                       {"action", ActionName(c.action)},
                       {"disruption", DisruptionName(c.disruption())},
                       {"attributes", attributes},
                       {"before", c.before},
                       {"desired", c.desired}});
    summary[std::string(ActionName(c.action))] = summary[std::string(ActionName(c.action))].get<int>() + 1;
    if (c.disruption() != Disruption::kNone) {
      std::string key(DisruptionName(c.disruption()));
      summary[key] = summary[key].get<int>() + 1;
    }
  }
  Json pending = Json::array();
  for (const Pending& p : plan.pending) {
    pending.push_back({{"address", p.address.ToString()},
                       {"path", p.path},
                       {"live", p.live},
                       {"config", p.config}});
  }
  Json diagnostics = Json::array();
  for (const Diagnostic& d : plan.diagnostics) {
    diagnostics.push_back({{"severity", SeverityName(d.severity)},
                           {"address", d.address},
                           {"summary", d.summary},
                           {"detail", d.detail}});
  }
  return Json{{"format_version", kPlanFormatVersion},
              {"tool_version", kVersion},
              {"connection", plan.connection},
              {"ceph", plan.ceph},
              {"fingerprint", plan.fingerprint},
              {"options",
               {{"allow_destroy", plan.options.allow_destroy},
                {"allow_restart", plan.options.allow_restart},
                {"prune", plan.options.prune}}},
              {"applyable", plan.applyable()},
              {"changes", changes},
              {"pending", pending},
              {"diagnostics", diagnostics},
              {"summary", summary}};
}

StatusOr<Plan> PlanFromJson(const Json& json) {
  // nlohmann throws on type mismatches; this is the edge where those become errors with a path.
  std::string field = "format_version";
  try {
    if (!json.is_object()) return Status::InvalidArgument("a plan must be a JSON object");
    if (!json.contains("format_version") || json.at("format_version") != kPlanFormatVersion) {
      return Status::InvalidArgument("not a plan of format_version " +
                                     std::to_string(kPlanFormatVersion));
    }
    Plan plan;
    field = "connection";
    plan.connection = json.at("connection").get<std::string>();
    plan.ceph = json.value("ceph", Json());
    field = "fingerprint";
    plan.fingerprint = json.at("fingerprint").get<std::string>();
    field = "options";
    const Json& options = json.at("options");
    plan.options.allow_destroy = options.at("allow_destroy").get<bool>();
    plan.options.allow_restart = options.at("allow_restart").get<bool>();
    plan.options.prune = options.at("prune").get<bool>();
    std::size_t i = 0;
    for (const Json& c : json.at("changes")) {
      field = "changes[" + std::to_string(i++) + "]";
      Change change;
      std::optional<Address> address = Address::Parse(c.at("address").get<std::string>());
      if (!address) return Status::InvalidArgument(field + ".address is not <kind>.<name>");
      change.address = *address;
      std::optional<Action> action = FromName(c.at("action").get<std::string>(), kActions, ActionName);
      if (!action) return Status::InvalidArgument(field + ".action is not a known action");
      change.action = *action;
      change.before = c.at("before");
      change.desired = c.at("desired");
      for (const Json& a : c.at("attributes")) {
        AttributeChange attribute;
        attribute.path = a.at("path").get<std::string>();
        attribute.before = a.at("before");
        attribute.after = a.at("after");
        std::optional<Disruption> d =
            FromName(a.at("disruption").get<std::string>(), kDisruptions, DisruptionName);
        if (!d) return Status::InvalidArgument(field + ".disruption is not a known class");
        attribute.disruption = *d;
        attribute.reason = a.value("reason", "");
        change.attributes.push_back(std::move(attribute));
      }
      plan.changes.push_back(std::move(change));
    }
    field = "pending";
    for (const Json& p : json.value("pending", Json::array())) {
      std::optional<Address> address = Address::Parse(p.at("address").get<std::string>());
      if (!address) return Status::InvalidArgument("pending.address is not <kind>.<name>");
      plan.pending.push_back({*address, p.at("path").get<std::string>(), p.at("live"), p.at("config")});
    }
    field = "diagnostics";
    for (const Json& d : json.value("diagnostics", Json::array())) {
      Diagnostic diagnostic;
      diagnostic.severity = d.at("severity") == "error" ? Diagnostic::Severity::kError
                                                        : Diagnostic::Severity::kWarning;
      diagnostic.address = d.value("address", "");
      diagnostic.summary = d.at("summary").get<std::string>();
      diagnostic.detail = d.value("detail", "");
      plan.diagnostics.push_back(std::move(diagnostic));
    }
    return plan;
  } catch (const Json::exception& e) {
    return Status::InvalidArgument("plan field " + field + ": " + e.what());
  }
}

}  // namespace vc
