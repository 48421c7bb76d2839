#include "engine/placement.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "engine/capacity.h"
#include "engine/change_rules.h"
#include "engine/size.h"

namespace vc {
namespace {

std::string Path(const Address& address, const std::string& field) {
  return std::string(KindSection(address.kind)) + "." + address.name +
         (field.empty() ? "" : "." + field);
}

Diagnostic Problem(const DesiredResource& r, const std::string& field, const std::string& message,
                   ErrorCode code = ErrorCode::kInvalidValue) {
  return ErrorDiagnostic(code, r.address.ToString(),
                         r.source + ": " + Path(r.address, field) + ": " + message);
}

std::string Join(const std::vector<std::string>& words, const char* separator = ", ") {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : separator) + w;
  return out;
}

// The hosts a pool or network is on: its `hosts:`, or every host.
std::vector<std::string> ListedHosts(const Document& doc, const Json& spec) {
  std::vector<std::string> hosts;
  if (spec.contains("hosts")) {
    for (const Json& h : spec["hosts"]) hosts.push_back(h.get<std::string>());
  } else {
    for (const auto& [name, entry] : doc.hosts) hosts.push_back(name);
  }
  return hosts;
}

// Memory a domain commits: its declared memory, else what the host has it at.
std::uint64_t MemoryOf(const Json& spec) {
  return spec.is_object() && spec.contains("memory") ? SizeBytes(spec["memory"]) : 0;
}

class Placer {
 public:
  Placer(const Document& doc, const ObservedState& observed, bool allow_overcommit,
         Diagnostics* diags)
      : doc_(doc), observed_(observed), allow_overcommit_(allow_overcommit), diags_(diags) {
    placed_.ceph = doc.ceph;
    placed_.hosts = doc.hosts;
    for (const auto& [address, r] : observed.resources) {
      if (address.kind == Kind::kDomain) seen_[address.name].push_back(address.host);
    }
  }

  Document Run() {
    for (const auto& [name, hosts] : seen_) {
      if (hosts.size() > 1) {
        diags_->push_back(
            ErrorDiagnostic(ErrorCode::kDuplicate, "domain." + name,
                            "domain " + name + " is defined on " + Join(hosts, " and ") +
                                ": a domain must be on one host only (undefine the stale copy)"));
      }
    }
    PlaceDomains();
    for (const auto& [name, entry] : doc_.hosts) {
      // A host's own settings: planned when it declares any.
      if (entry.spec.contains("ksm"))
        Put(DesiredResource{HostAddress(name), false, Json{{"ksm", entry.spec["ksm"]}},
                            "hosts." + name},
            name);
    }
    for (const auto& [address, r] : doc_.resources) {
      switch (address.kind) {
        case Kind::kPool:
        case Kind::kNetwork:
          for (const std::string& host : ListedHosts(doc_, r.spec)) Put(r, host);
          break;
        case Kind::kVolume:
          PlaceVolume(r);
          break;
        case Kind::kRbdImage:
          Put(r, "");
          break;
        case Kind::kDomain:
        case Kind::kHost:
          break;
      }
    }
    for (const auto& [host, count] : dropped_) {
      Diagnostic d;
      d.severity = Diagnostic::Severity::kWarning;
      d.code = ErrorCode::kConnectionFailed;
      d.summary =
          fmt::format("host {} skipped: {}; the {} resource(s) placed on it are not planned", host,
                      observed_.skipped_hosts.at(host), count);
      diags_->push_back(std::move(d));
    }
    return std::move(placed_);
  }

 private:
  bool Skipped(const std::string& host) const { return observed_.skipped_hosts.count(host) > 0; }
  bool InMaintenance(const std::string& host) const {
    auto it = doc_.hosts.find(host);
    return it != doc_.hosts.end() && it->second.maintenance;
  }

  // The one host `name` is observed on, if exactly one.
  std::optional<std::string> SeenOn(const std::string& name) const {
    auto it = seen_.find(name);
    if (it == seen_.end() || it->second.size() != 1) return std::nullopt;
    return it->second.front();
  }

  const ObservedResource* Observed(Kind kind, const std::string& name,
                                   const std::string& host) const {
    auto it = observed_.resources.find(Address{kind, name, host});
    return it == observed_.resources.end() ? nullptr : &it->second;
  }

  void Put(const DesiredResource& r, const std::string& host, const std::string& why = "") {
    if (!host.empty() && Skipped(host)) {
      ++dropped_[host];
      return;
    }
    DesiredResource out = r;
    out.address.host = host;
    out.spec.erase("host");
    out.spec.erase("hosts");
    if (out.address.kind == Kind::kDomain && out.spec.contains("cpu") &&
        out.spec["cpu"].value("mode", "") == "baseline") {
      const Json& baseline = observed_.cpu_baseline;
      if (!baseline.is_object() || baseline.contains("error")) {
        diags_->push_back(Problem(
            r, "cpu",
            "no CPU baseline of the fleet: " +
                (baseline.is_object() ? baseline.value("error", "") : std::string("not computed")),
            ErrorCode::kUnsupported));
        return;
      }
      out.spec["cpu"] = baseline;
      out.cpu_note = "the baseline of every host that answered: " + baseline.value("model", "") +
                     " with " + std::to_string(baseline.value("require", Json::array()).size()) +
                     " more feature(s) required, " +
                     std::to_string(baseline.value("disable", Json::array()).size()) + " disabled";
    }
    out.placed_why = why;
    placed_.resources[out.address] = std::move(out);
  }

  // The one host a domain of the document names: its host:, or the fleet's only host. "" when
  // it lists hosts: to choose from.
  std::string NamedHost(const DesiredResource& r) const {
    if (r.spec.contains("host")) return r.spec["host"].get<std::string>();
    if (!r.spec.contains("hosts") && doc_.hosts.size() == 1) return doc_.hosts.begin()->first;
    return "";
  }

  static bool Lists(const DesiredResource& r, const std::string& host) {
    for (const Json& h : r.spec.value("hosts", Json::array()))
      if (h == host) return true;
    return false;
  }

  void PlaceDomains() {
    // Domains whose host is chosen here: (domain, the host it leaves or "").
    std::vector<std::pair<std::string, std::string>> choose;
    for (const auto& [address, r] : doc_.resources) {
      if (address.kind != Kind::kDomain) continue;
      std::optional<std::string> on = SeenOn(address.name);
      const std::string declared = NamedHost(r);
      if (r.absent) {
        // Deleted wherever it is (or on its host, when it names one and is nowhere).
        if (on) {
          Put(r, *on);
        } else if (!declared.empty()) {
          Put(r, declared);
        }
        continue;
      }
      const ObservedResource* there = on ? Observed(Kind::kDomain, address.name, *on) : nullptr;
      const bool running = there != nullptr && IsRunning(*there);
      if (declared.empty()) {  // hosts: [...]
        if (on && Lists(r, *on) && !(InMaintenance(*on) && running)) {
          Put(r, *on);  // stays where it is
          placed_host_[address.name] = *on;
        } else if (!on && !observed_.skipped_hosts.empty()) {
          NotCreated(address.name, "its hosts");
        } else {
          choose.emplace_back(address.name, on.value_or(""));
        }
        continue;
      }
      if (on && *on != declared && InMaintenance(*on) && running &&
          (InMaintenance(declared) || Skipped(declared))) {
        choose.emplace_back(address.name, *on);  // where it would go cannot take it either
        continue;
      }
      if (InMaintenance(declared)) {
        if (on && *on == declared && running) {
          choose.emplace_back(address.name, declared);
        } else if (on) {
          Put(r, *on);  // stays where it is: maintenance moves nothing back
        } else {
          diags_->push_back(Problem(r, "host",
                                    "host " + declared +
                                        " is in maintenance: a new domain is not placed there "
                                        "(name another host)",
                                    ErrorCode::kUnsupported));
        }
        continue;
      }
      if (!on && !Skipped(declared) && !observed_.skipped_hosts.empty()) {
        NotCreated(address.name, declared);
        continue;
      }
      if (on && Skipped(declared)) {
        ++dropped_[declared];  // would move to a host that does not answer
        continue;
      }
      Put(r, declared);
      placed_host_[address.name] = declared;
    }
    // Running domains nobody declared, on a host in maintenance, go too.
    for (const auto& [address, r] : observed_.resources) {
      if (address.kind != Kind::kDomain || !InMaintenance(address.host) || !IsRunning(r)) continue;
      if (doc_.resources.count(Address{Kind::kDomain, address.name})) continue;
      choose.emplace_back(address.name, address.host);
    }
    std::set<std::string> choosing;
    for (const auto& [name, from] : choose) choosing.insert(name);
    // What each host commits before the chosen ones are placed: the domains placed on it, and
    // those on it that nobody declared and that stay.
    for (const auto& [name, entry] : doc_.hosts) {
      HostCapacity c;
      c.host = name;
      c.limits = HostLimits::Of(entry);
      if (const ObservedResource* node = Observed(Kind::kHost, name, name);
          node != nullptr && node->facts.is_object()) {
        c.cpus = node->facts.value("cpus", 0);
        c.memory = node->facts.value("memory", std::uint64_t{0});
      }
      load_.emplace(name, std::move(c));
    }
    for (const auto& [address, r] : placed_.resources) {
      if (address.kind != Kind::kDomain || r.absent) continue;
      // A partial declaration of a domain that exists commits what it has, as declared.
      const ObservedResource* existing = Observed(Kind::kDomain, address.name, address.host);
      Json fields = existing != nullptr ? CommittedFields(*existing) : Json::object();
      fields.update(r.spec);
      Commit(address.host, fields);
    }
    for (const auto& [address, r] : observed_.resources) {
      if (address.kind == Kind::kDomain &&
          !doc_.resources.count(Address{Kind::kDomain, address.name}) &&
          !choosing.count(address.name))
        Commit(address.host, CommittedFields(r));
    }
    std::sort(choose.begin(), choose.end());
    for (const auto& [name, from] : choose) Choose(name, from);
  }

  void NotCreated(const std::string& name, const std::string& where) {
    // It may be on a host that could not be asked: creating it here could run it twice.
    std::vector<std::string> skipped;
    for (const auto& [host, why] : observed_.skipped_hosts) skipped.push_back(host);
    Diagnostic d;
    d.severity = Diagnostic::Severity::kWarning;
    d.code = ErrorCode::kConnectionFailed;
    d.address = Address{Kind::kDomain, name, doc_.hosts.count(where) ? where : ""}.ToString();
    d.summary = "domains." + name + ": not created on " + where + ": " + Join(skipped) +
                " could not be asked whether it holds it";
    diags_->push_back(std::move(d));
  }

  void Commit(const std::string& host, const Json& spec) {
    auto it = load_.find(host);
    if (it == load_.end()) return;
    it->second.after.domains += 1;
    it->second.after.vcpus += spec.value("vcpus", 0);
    it->second.after.memory += MemoryOf(spec);
  }

  // Places domain `name` (leaving `from`, or new when "") on the host that keeps its limits
  // with the most headroom left: of its hosts: list, or, when it is drained, of every other.
  void Choose(const std::string& name, const std::string& from) {
    auto declared = doc_.resources.find(Address{Kind::kDomain, name});
    DesiredResource r = declared != doc_.resources.end()
                            ? declared->second
                            : DesiredResource{Address{Kind::kDomain, name}, false, Json::object(),
                                              "(drain of " + from + ")"};
    const ObservedResource* there = from.empty() ? nullptr : Observed(Kind::kDomain, name, from);
    Json spec = there != nullptr ? there->spec : Json::object();
    spec.update(r.spec);
    const bool drained = !from.empty() && InMaintenance(from);
    std::vector<std::string> refused;
    std::vector<std::pair<double, std::string>> fits;  // (headroom left, host)
    for (const auto& [host, entry] : doc_.hosts) {
      if (host == from) continue;
      if (r.spec.contains("hosts") && !Lists(r, host)) continue;
      if (entry.maintenance) {
        refused.push_back(host + ": in maintenance");
        continue;
      }
      if (Skipped(host)) {
        refused.push_back(host + ": unreachable");
        continue;
      }
      auto check = observed_.cpu_checks.find(CpuCheckKey(Address{Kind::kDomain, name, from}, host));
      if (!from.empty() && check != observed_.cpu_checks.end() &&
          !(check->second.is_array() && check->second.empty())) {
        refused.push_back(host + ": " + CpuRefusal(check->second));
        continue;
      }
      std::optional<double> left = Headroom(load_.at(host), spec.value("vcpus", 0), MemoryOf(spec));
      if (!left) {
        refused.push_back(host + ": its capacity is not known");
        continue;
      }
      if (*left < 0 && !allow_overcommit_) {
        refused.push_back(
            fmt::format("{}: over its limits with it ({:.0f}% beyond)", host, -*left * 100));
        continue;
      }
      fits.emplace_back(*left, host);
    }
    const std::string leaving = drained ? "cannot drain " + from + ": " : "";
    if (fits.empty()) {
      diags_->push_back(Problem(r, r.spec.contains("hosts") ? "hosts" : "host",
                                leaving + "no host can take it (" + Join(refused, "; ") + ")",
                                ErrorCode::kUnsupported));
      return;
    }
    std::stable_sort(fits.begin(), fits.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    const std::string& best = fits.front().second;
    std::vector<std::string> shares;
    for (const auto& [left, host] : fits)
      shares.push_back(fmt::format("{} {:.0f}%", host, left * 100));
    std::string why = fmt::format(
        "{}{} keeps its capacity limits with the most headroom left once it is there "
        "({})",
        drained ? from + " is in maintenance; " : "", best, Join(shares));
    if (!refused.empty()) why += "; not " + Join(refused, "; ");
    Commit(best, spec);
    Put(r, best, why);
    placed_host_[name] = best;
  }

  void PlaceVolume(const DesiredResource& r) {
    const std::string pool = r.address.name.substr(0, r.address.name.find('/'));
    if (r.spec.contains("host")) {
      Put(r, r.spec["host"].get<std::string>());
      return;
    }
    // The hosts of the domains that use it.
    std::set<std::string> users;
    for (const auto& [address, d] : doc_.resources) {
      if (address.kind != Kind::kDomain || d.absent) continue;
      for (const Json& disk : d.spec.value("disks", Json::array())) {
        auto it = placed_host_.find(address.name);
        if (disk.value("volume", "") == r.address.name && it != placed_host_.end())
          users.insert(it->second);
      }
    }
    if (users.size() > 1) {
      diags_->push_back(Problem(r, "",
                                "used by domains on several hosts (" +
                                    Join(std::vector<std::string>(users.begin(), users.end())) +
                                    "): a local volume is on one host",
                                ErrorCode::kInvalidValue));
      return;
    }
    if (users.size() == 1) {
      Put(r, *users.begin());
      return;
    }
    // No domain uses it (a golden image, a spare): on every host of its pool.
    auto declared_pool = doc_.resources.find(Address{Kind::kPool, pool});
    std::vector<std::string> hosts;
    if (declared_pool != doc_.resources.end()) {
      hosts = ListedHosts(doc_, declared_pool->second.spec);
    } else {
      for (const auto& [name, entry] : doc_.hosts) {
        if (Observed(Kind::kPool, pool, name) != nullptr) hosts.push_back(name);
      }
      if (hosts.empty()) {
        for (const auto& [name, entry] : doc_.hosts) hosts.push_back(name);
      }
    }
    for (const std::string& host : hosts) Put(r, host);
  }

  static std::string CpuRefusal(const Json& check) {
    if (check.is_array()) {
      std::vector<std::string> names;
      for (const Json& f : check) names.push_back(f.get<std::string>());
      return "its CPU lacks " + Join(names);
    }
    return check.value("error", "its CPU cannot run the domain's");
  }

  const Document& doc_;
  const ObservedState& observed_;
  const bool allow_overcommit_;
  Diagnostics* diags_;
  std::map<std::string, HostCapacity> load_;  // each host as placed so far
  Document placed_;
  std::map<std::string, std::vector<std::string>> seen_;  // domain name → hosts it is on
  std::map<std::string, std::string> placed_host_;        // domain name → its placed host
  std::map<std::string, int> dropped_;                    // skipped host → resources not planned
};

}  // namespace

std::string CpuCheckKey(const Address& domain, const std::string& to) {
  return domain.name + "@" + domain.host + ">" + to;
}

Diagnostics CheckPlacement(const Document& doc) {
  Diagnostics diags;
  if (doc.fleet() && !doc.connection.empty()) {
    diags.push_back(ErrorDiagnostic(
        ErrorCode::kInvalidValue, "",
        "connection: and hosts: cannot be used together: give each host's connection in hosts:"));
  }
  for (const auto& [address, r] : doc.resources) {
    for (const char* field : {"host", "hosts"}) {
      if (!r.spec.contains(field)) continue;
      if (!doc.fleet()) {
        diags.push_back(Problem(r, field, "only in a fleet: declare the hosts in a hosts: section",
                                ErrorCode::kMissingReference));
        continue;
      }
      std::vector<std::string> named;
      if (r.spec[field].is_array()) {
        for (const Json& h : r.spec[field]) named.push_back(h.get<std::string>());
      } else {
        named.push_back(r.spec[field].get<std::string>());
      }
      for (const std::string& host : named) {
        if (!doc.hosts.count(host)) {
          diags.push_back(Problem(r, field, "host " + host + " is not declared in hosts:",
                                  ErrorCode::kMissingReference));
        }
      }
    }
    if (!doc.fleet() && address.kind == Kind::kDomain && r.spec.contains("cpu") &&
        r.spec["cpu"].value("mode", "") == "baseline") {
      diags.push_back(Problem(r, "cpu.mode",
                              "baseline is the CPU every host of a fleet can run: it needs a "
                              "hosts: section",
                              ErrorCode::kInvalidValue));
    }
    if (doc.fleet() && address.kind == Kind::kDomain && !r.absent && !r.spec.contains("host") &&
        !r.spec.contains("hosts") && doc.hosts.size() > 1) {
      diags.push_back(Problem(r, "host",
                              "missing required field (in a fleet of several hosts each domain "
                              "names its host, or lists its hosts)",
                              ErrorCode::kMissingField));
    }
    if (address.kind == Kind::kDomain && r.spec.contains("host") && r.spec.contains("hosts")) {
      diags.push_back(Problem(r, "hosts", "give host or hosts, not both"));
    }
  }
  return diags;
}

std::vector<MoveCandidate> MoveCandidates(const Document& doc, const ObservedState& observed) {
  std::vector<MoveCandidate> out;
  if (!doc.fleet()) return out;
  auto usable = [&](const std::string& name) {
    auto entry = doc.hosts.find(name);
    return entry != doc.hosts.end() && !entry->second.maintenance &&
           !observed.skipped_hosts.count(name);
  };
  for (const auto& [address, r] : observed.resources) {
    if (address.kind != Kind::kDomain) continue;
    auto declared = doc.resources.find(Address{Kind::kDomain, address.name});
    const bool present = declared != doc.resources.end() && !declared->second.absent;
    const Json none = Json::object();
    const Json& spec = present ? declared->second.spec : none;
    std::string to = spec.value("host", "");
    if (present && to.empty() && !spec.contains("hosts") && doc.hosts.size() == 1)
      to = doc.hosts.begin()->first;
    auto host = doc.hosts.find(address.host);
    const bool here_in_maintenance =
        host != doc.hosts.end() && host->second.maintenance && IsRunning(r);
    std::vector<std::string> allowed;  // where the planner may choose to put it
    if (spec.contains("hosts")) {
      bool listed = false;
      for (const Json& h : spec["hosts"]) listed = listed || h == address.host;
      if (!listed || here_in_maintenance) {
        for (const Json& h : spec["hosts"]) allowed.push_back(h.get<std::string>());
      }
    } else {
      auto declared_host = doc.hosts.find(to);
      const bool draining =
          here_in_maintenance &&
          (to.empty() || to == address.host ||
           (declared_host != doc.hosts.end() && declared_host->second.maintenance));
      if (draining) {
        for (const auto& [name, entry] : doc.hosts) allowed.push_back(name);
      } else if (!to.empty() && to != address.host && usable(to)) {
        out.push_back({address, to});
      }
    }
    for (const std::string& name : allowed) {
      if (name != address.host && usable(name)) out.push_back({address, name});
    }
  }
  return out;
}

Document PlaceOnHosts(const Document& doc, const ObservedState& observed, bool allow_overcommit,
                      Diagnostics* diags) {
  if (!doc.fleet()) return doc;
  return Placer(doc, observed, allow_overcommit, diags).Run();
}

}  // namespace vc
