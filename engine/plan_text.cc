#include "engine/plan_text.h"

#include <fmt/format.h>

#include <algorithm>

#include "engine/size.h"

namespace vc {
namespace {

struct Palette {
  const char* reset = "";
  const char* bold = "";
  const char* green = "";
  const char* yellow = "";
  const char* red = "";
  const char* magenta = "";
  const char* dim = "";
  const char* cyan = "";
};

Palette PaletteFor(const TextStyle& style) {
  if (!style.color) return {};
  return {"\033[0m",  "\033[1m",  "\033[32m", "\033[33m",
          "\033[31m", "\033[35m", "\033[2m",  "\033[36m"};
}

std::string DisruptionWords(const std::string& disruption) {
  if (disruption == "live") return "live";
  if (disruption == "restart") return "needs restart";
  if (disruption == "destructive") return "destructive";
  return "no disruption";
}

std::string Bytes(const Json& value) {
  return value.is_number_unsigned() ? ApproximateSize(value.get<std::uint64_t>())
                                    : RenderValue(value);
}

std::string Ratio(const Json& value) {
  return value.is_number() ? fmt::format("{:.2f}", value.get<double>()) : "?";
}

// Capacity: what each host the plan touches has, what its domains commit before → after the
// plan, and the ratios against the limits of its hosts: entry. Figures over a limit in red.
std::string RenderCapacity(const Json& capacity, const Palette& p) {
  std::string out;
  if (!capacity.is_object() || capacity.empty()) return out;
  out += fmt::format("\n{}Capacity{} (domains defined on each host, before → after the plan):\n",
                     p.bold, p.reset);
  for (const auto& item : capacity.items()) {
    // Not a structured binding: clang 14 (the fuzzers' compiler) cannot capture one in a lambda.
    const std::string& host = item.key();
    const Json& c = item.value();
    const Json before = c.value("before", Json::object());
    const Json after = c.value("after", Json::object());
    auto mark = [&](const char* ratio, const char* limit) {
      const bool over = after.value(ratio, 0.0) > c.value(limit, 0.0) + 1e-9;
      return over ? p.red : "";
    };
    out += fmt::format("    {}: {} CPUs, {} of memory ({} reserved)\n", host, c.value("cpus", 0),
                       Bytes(c.value("memory", Json())), Bytes(c.value("reserved_memory", Json())));
    out += fmt::format("        {}vCPUs       {} → {}, {} → {} per CPU (limit {}){}\n",
                       mark("vcpu_ratio", "cpu_allocation_ratio"), before.value("vcpus", 0),
                       after.value("vcpus", 0), Ratio(before.value("vcpu_ratio", Json())),
                       Ratio(after.value("vcpu_ratio", Json())),
                       Ratio(c.value("cpu_allocation_ratio", Json())), p.reset);
    out += fmt::format(
        "        {}memory      {} → {}, {} → {} of the host with the reserve "
        "(limit {}){}\n",
        mark("ram_ratio", "ram_allocation_ratio"), Bytes(before.value("memory", Json())),
        Bytes(after.value("memory", Json())), Ratio(before.value("ram_ratio", Json())),
        Ratio(after.value("ram_ratio", Json())), Ratio(c.value("ram_allocation_ratio", Json())),
        p.reset);
    out += fmt::format(
        "        max memory  {} → {}, {} → {} of the host (where hot-add could "
        "take it)\n",
        Bytes(before.value("max_memory", Json())), Bytes(after.value("max_memory", Json())),
        Ratio(before.value("max_memory_ratio", Json())),
        Ratio(after.value("max_memory_ratio", Json())));
    std::string undeclared;
    for (const Json& name : after.value("undeclared", Json::array()))
      undeclared += (undeclared.empty() ? "" : ", ") + RenderValue(name);
    out += fmt::format("        domains     {} → {}{}\n", before.value("domains", 0),
                       after.value("domains", 0),
                       undeclared.empty() ? "" : " (not in the documents: " + undeclared + ")");
  }
  return out;
}

}  // namespace

std::string RenderValue(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "(none)";
    case Json::value_t::string: {
      // A text of several lines (a cloud-init user-data) is summarised; its diff is in the
      // attribute's reason, shown line by line.
      const std::string text = value.get<std::string>();
      const auto lines = std::count(text.begin(), text.end(), '\n');
      if (lines == 0) return text;
      return fmt::format("<text, {} line{}>", lines + (text.back() == '\n' ? 0 : 1),
                         lines + (text.back() == '\n' ? 0 : 1) == 1 ? "" : "s");
    }
    case Json::value_t::array: {
      std::string out = "[";
      for (std::size_t i = 0; i < value.size(); ++i) {
        out += (i ? ", " : "") + RenderValue(value[i]);
      }
      return out + "]";
    }
    case Json::value_t::object: {
      std::string out = "{";
      bool first = true;
      for (const auto& [key, v] : value.items()) {
        out += (first ? "" : ", ") + key + ": " + RenderValue(v);
        first = false;
      }
      return out + "}";
    }
    default:
      return value.dump();
  }
}

std::string RenderPlanText(const Json& plan, const TextStyle& style) {
  const Palette p = PaletteFor(style);
  std::string out;
  const Json hosts = plan.value("hosts", Json::object());
  if (hosts.empty()) {
    out += fmt::format("Plan for {} (fingerprint {})\n", plan.value("connection", ""),
                       plan.value("fingerprint", ""));
  } else {
    out += fmt::format("Plan for the fleet of {} host(s) (fingerprint {})\n", hosts.size(),
                       plan.value("fingerprint", ""));
    for (const auto& [name, host] : hosts.items()) {
      const Json skipped = host.value("skipped", Json());
      out += fmt::format("    {}: {}{}\n", name, host.value("connection", ""),
                         skipped.is_string() ? " — skipped: " + skipped.get<std::string>() : "");
    }
  }
  const Json& changes = plan.at("changes");
  if (changes.empty()) {
    out += hosts.empty() ? "\nNo changes: the host matches the documents.\n"
                         : "\nNo changes: the hosts match the documents.\n";
  }
  // A fleet's changes are shown by host (in apply order within each); a move under the host it
  // goes to, RBD images under the cluster.
  std::vector<const Json*> ordered;
  std::vector<std::string> groups;
  for (const Json& change : changes) {
    std::string host = change.value("host", Json()).is_string() ? change["host"].get<std::string>()
                                                                : std::string();
    if (std::find(groups.begin(), groups.end(), host) == groups.end()) groups.push_back(host);
  }
  std::sort(groups.begin(), groups.end());
  for (const std::string& group : groups) {
    for (const Json& change : changes) {
      std::string host = change.value("host", Json()).is_string()
                             ? change["host"].get<std::string>()
                             : std::string();
      if (host == group) ordered.push_back(&change);
    }
  }
  std::string current_group = "\x01";
  for (const Json* change_ptr : ordered) {
    const Json& change = *change_ptr;
    if (!hosts.empty()) {
      std::string group = change.value("host", Json()).is_string()
                              ? change["host"].get<std::string>()
                              : std::string();
      if (group != current_group) {
        out += fmt::format("\n{}{}{}\n", p.bold,
                           group.empty() ? "Ceph cluster:" : "On " + group + ":", p.reset);
        current_group = group;
      }
    }
    const std::string action = change.at("action");
    const char* colour = p.yellow;
    const char* symbol = "~";
    if (action == "create") colour = p.green, symbol = "+";
    if (action == "delete") colour = p.red, symbol = "-";
    if (action == "replace") colour = p.magenta, symbol = "-/+";
    if (action == "migrate") colour = p.cyan, symbol = "»";
    out += fmt::format("\n{}{} {}{}{} ({}, {})\n", colour, symbol, p.bold,
                       change.at("address").get<std::string>(), p.reset, action,
                       DisruptionWords(change.at("disruption")));
    for (const Json& a : change.at("attributes")) {
      std::string row;
      if (action == "create") {
        row = fmt::format("{} = {}", a.at("path").get<std::string>(), RenderValue(a.at("after")));
      } else if (action == "delete") {
        row = "delete";
      } else {
        row = fmt::format("{} {} → {}", a.at("path").get<std::string>(),
                          RenderValue(a.at("before")), RenderValue(a.at("after")));
      }
      std::string how = DisruptionWords(a.at("disruption"));
      std::string reason = a.value("reason", "");
      std::string diff;  // a text's line diff ("; diff:\n-old\n+new"), shown below the row
      if (std::size_t at = reason.find("; diff:\n"); at != std::string::npos) {
        for (std::size_t start = at + 8; start < reason.size();) {
          std::size_t end = std::min(reason.find('\n', start), reason.size());
          diff += fmt::format("        {}\n", reason.substr(start, end - start));
          start = end + 1;
        }
        reason.erase(at);
      }
      if (action == "create" && a.at("path") == "host" && !reason.empty()) {
        // The host the planner chose for a new domain, and why.
        out += fmt::format("    {}  {}(chosen: {}){}\n", row, p.dim, reason, p.reset);
      } else if (action == "create" && a.at("disruption") == "none") {
        out += fmt::format("    {}\n", row);
      } else {
        out += fmt::format("    {}  {}({}{}){}\n", row, p.dim, how,
                           reason.empty() ? "" : ": " + reason, p.reset);
      }
      out += diff;
    }
    // The steps apply will run, exactly: with --verbose, with their arguments.
    for (const Json& step : change.value("steps", Json::array())) {
      out += fmt::format("    {}→ {}{}{}\n", p.dim, step.value("description", ""),
                         style.verbose ? "  " + step.value("args", Json::object()).dump() : "",
                         p.reset);
    }
  }
  const Json& pending = plan.value("pending", Json::array());
  if (!pending.empty()) {
    out += fmt::format(
        "\n{}Pending restart{} (in the persistent config, not yet in the running guest):\n",
        p.yellow, p.reset);
    for (const Json& item : pending) {
      out += fmt::format("    {} {}: running {}, next boot {}{}\n",
                         item.at("address").get<std::string>(), item.at("path").get<std::string>(),
                         RenderValue(item.at("live")), RenderValue(item.at("config")),
                         item.contains("reason") && item["reason"].is_string()
                             ? " (" + item["reason"].get<std::string>() + ")"
                             : std::string());
    }
  }
  out += RenderCapacity(plan.value("capacity", Json()), p);
  for (const Json& d : plan.value("diagnostics", Json::array())) {
    bool error = d.at("severity") == "error";
    out += fmt::format("\n{}{}:{} {}\n", error ? p.red : p.yellow, error ? "Error" : "Warning",
                       p.reset, d.at("summary").get<std::string>());
    if (!d.value("detail", "").empty()) out += "    " + d.at("detail").get<std::string>() + "\n";
  }
  const Json& s = plan.at("summary");
  int live = 0;
  int restart = 0;
  int live_moves = 0;
  for (const Json& change : changes) {
    live_moves += change.at("action") == "migrate" && change.at("disruption") == "live";
  }
  for (const Json& change : changes) {
    if (change.at("action") != "update") continue;
    live += change.at("disruption") == "live";
    restart += change.at("disruption") == "restart";
  }
  out += fmt::format(
      "\n{}Plan:{} {} to create, {} to update ({} live, {} need restart), {} to replace, {} to "
      "destroy{}.\n",
      p.bold, p.reset, s.at("create").get<int>(), s.at("update").get<int>(), live, restart,
      s.at("replace").get<int>(), s.at("delete").get<int>(),
      s.value("migrate", 0) > 0
          ? fmt::format(", {} to migrate ({} live)", s.value("migrate", 0), live_moves)
          : "");
  if (!plan.value("applyable", true)) {
    out += fmt::format("{}This plan cannot be applied as it stands: see the errors above.{}\n",
                       p.red, p.reset);
  }
  return out;
}

}  // namespace vc
