#include "engine/capacity.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "engine/change_rules.h"
#include "engine/size.h"

namespace vc {
namespace {

// Sizes are each below 2^63, but a sum of several is not: it stops at the largest value rather
// than wrap to a small one that would pass every limit.
std::uint64_t SaturatingAdd(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

// What one domain commits, from its fields (a running one's live values when observed).
Commitment CommitOf(const Json& spec) {
  Commitment c;
  c.domains = 1;
  c.vcpus = spec.value("vcpus", 0);
  c.memory = SizeBytes(spec.value("memory", Json()));
  std::uint64_t max = SizeBytes(spec.value("max_memory", Json()));
  c.max_memory = max > c.memory ? max : c.memory;
  return c;
}

void Add(Commitment* total, const Commitment& one, const std::string& undeclared_name) {
  total->domains += one.domains;
  total->vcpus += one.vcpus;
  total->memory = SaturatingAdd(total->memory, one.memory);
  total->max_memory = SaturatingAdd(total->max_memory, one.max_memory);
  if (!undeclared_name.empty()) total->undeclared.push_back(undeclared_name);
}

double Rounded(double x) { return std::round(x * 1000) / 1000; }

std::string Ratio(double x) { return fmt::format("{:.2f}", x); }

}  // namespace

const Json& CommittedFields(const ObservedResource& domain) {
  return IsRunning(domain) && domain.live.is_object() ? domain.live : domain.spec;
}

HostLimits HostLimits::Of(const HostEntry& entry) {
  HostLimits limits;
  limits.cpu_allocation_ratio =
      entry.spec.value("cpu_allocation_ratio", kDefaultCpuAllocationRatio);
  limits.ram_allocation_ratio =
      entry.spec.value("ram_allocation_ratio", kDefaultRamAllocationRatio);
  if (entry.spec.contains("reserved_memory"))
    limits.reserved_memory = SizeBytes(entry.spec["reserved_memory"]);
  return limits;
}

double HostCapacity::VcpuRatio(const Commitment& c) const {
  return cpus > 0 ? static_cast<double>(c.vcpus) / cpus : 0;
}

double HostCapacity::RamRatio(const Commitment& c) const {
  return memory > 0
             ? (static_cast<double>(limits.reserved_memory) + static_cast<double>(c.memory)) /
                   static_cast<double>(memory)
             : 0;
}

double HostCapacity::MaxMemoryRatio(const Commitment& c) const {
  return memory > 0
             ? (static_cast<double>(limits.reserved_memory) + static_cast<double>(c.max_memory)) /
                   static_cast<double>(memory)
             : 0;
}

std::vector<HostCapacity> ComputeCapacity(const Document& doc, const Document& placed,
                                          const ObservedState& observed, const ObservedState& after,
                                          const std::set<Address>& deleted,
                                          const std::set<std::string>& hosts) {
  std::vector<HostCapacity> out;
  for (const std::string& host : hosts) {
    auto entry = doc.hosts.find(host);
    auto node = observed.resources.find(HostAddress(host));
    if (entry == doc.hosts.end() || node == observed.resources.end() ||
        !node->second.facts.is_object())
      continue;
    HostCapacity c;
    c.host = host;
    c.cpus = node->second.facts.value("cpus", 0);
    c.memory = node->second.facts.value("memory", std::uint64_t{0});
    if (c.cpus <= 0 || c.memory == 0) continue;
    c.limits = HostLimits::Of(entry->second);
    auto undeclared = [&](const std::string& name) {
      return doc.resources.count(Address{Kind::kDomain, name}) ? "" : name;
    };
    for (const auto& [address, r] : observed.resources) {
      if (address.kind == Kind::kDomain && address.host == host)
        Add(&c.before, CommitOf(CommittedFields(r)), undeclared(address.name));
    }
    for (const auto& [address, r] : after.resources) {
      if (address.kind != Kind::kDomain || address.host != host || deleted.count(address)) continue;
      Json fields = CommittedFields(r);
      auto declared = placed.resources.find(address);
      if (declared != placed.resources.end() && !declared->second.absent)
        fields.update(declared->second.spec);
      Add(&c.after, CommitOf(fields), undeclared(address.name));
    }
    for (const auto& [address, r] : placed.resources) {
      if (address.kind == Kind::kDomain && address.host == host && !r.absent &&
          !after.resources.count(address))
        Add(&c.after, CommitOf(r.spec), "");
    }
    out.push_back(std::move(c));
  }
  return out;
}

Diagnostics CheckCapacity(const std::vector<HostCapacity>& capacity, bool allow_overcommit) {
  Diagnostics out;
  for (const HostCapacity& c : capacity) {
    struct Figure {
      const char* what;
      double before, after, limit;
      const char* field;
      std::string detail;
    };
    const Figure figures[] = {
        {"vCPUs per host CPU", c.VcpuRatio(c.before), c.VcpuRatio(c.after),
         c.limits.cpu_allocation_ratio, "cpu_allocation_ratio",
         fmt::format("{} vCPUs on {} CPUs", c.after.vcpus, c.cpus)},
        {"memory committed per byte of host memory", c.RamRatio(c.before), c.RamRatio(c.after),
         c.limits.ram_allocation_ratio, "ram_allocation_ratio",
         fmt::format("{} of domain memory + {} reserved on {}", ApproximateSize(c.after.memory),
                     ApproximateSize(c.limits.reserved_memory), ApproximateSize(c.memory))},
    };
    std::string undeclared;
    for (const std::string& name : c.after.undeclared)
      undeclared += (undeclared.empty() ? "" : ", ") + name;
    const std::string counted =
        fmt::format("{} domain(s) counted{}", c.after.domains,
                    undeclared.empty() ? "" : ", not declared in the documents: " + undeclared);
    for (const Figure& f : figures) {
      const bool raises = f.after > f.before + 1e-9;
      Diagnostic d;
      d.severity = Diagnostic::Severity::kWarning;
      d.code = ErrorCode::kOverCommitted;
      d.address = HostAddress(c.host).ToString();
      d.detail = f.detail + "; " + counted;
      if (f.after > f.limit + 1e-9 && raises) {
        d.summary =
            fmt::format("host {}: the plan takes {} from {} to {}, over its {} of {}", c.host,
                        f.what, Ratio(f.before), Ratio(f.after), f.field, Ratio(f.limit));
        if (allow_overcommit) {
          d.summary += " (allowed by --allow-overcommit)";
        } else {
          d.severity = Diagnostic::Severity::kError;
          d.summary += ": nothing is changed (raise the limit in hosts:, or --allow-overcommit)";
        }
      } else if (f.after > f.limit + 1e-9) {
        d.summary = fmt::format("host {}: {} stays at {}, over its {} of {}", c.host, f.what,
                                Ratio(f.after), f.field, Ratio(f.limit));
      } else if (raises && f.after >= kCloseToLimit * f.limit) {
        d.summary =
            fmt::format("host {}: the plan takes {} from {} to {}, close to its {} of {}", c.host,
                        f.what, Ratio(f.before), Ratio(f.after), f.field, Ratio(f.limit));
      } else {
        continue;
      }
      out.push_back(std::move(d));
    }
  }
  return out;
}

Json CapacityToJson(const std::vector<HostCapacity>& capacity) {
  Json out = Json::object();
  for (const HostCapacity& c : capacity) {
    auto commitment = [&](const Commitment& m) {
      return Json{{"domains", m.domains},
                  {"vcpus", m.vcpus},
                  {"memory", m.memory},
                  {"max_memory", m.max_memory},
                  {"vcpu_ratio", Rounded(c.VcpuRatio(m))},
                  {"ram_ratio", Rounded(c.RamRatio(m))},
                  {"max_memory_ratio", Rounded(c.MaxMemoryRatio(m))},
                  {"undeclared", m.undeclared}};
    };
    out[c.host] = {{"cpus", c.cpus},
                   {"memory", c.memory},
                   {"reserved_memory", c.limits.reserved_memory},
                   {"cpu_allocation_ratio", c.limits.cpu_allocation_ratio},
                   {"ram_allocation_ratio", c.limits.ram_allocation_ratio},
                   {"before", commitment(c.before)},
                   {"after", commitment(c.after)}};
  }
  return out;
}

std::optional<double> Headroom(const HostCapacity& host, std::int64_t extra_vcpus,
                               std::uint64_t extra_memory) {
  if (host.cpus <= 0 || host.memory == 0) return std::nullopt;
  Commitment c = host.after;
  c.vcpus += extra_vcpus;
  c.memory = SaturatingAdd(c.memory, extra_memory);
  const double cpu = 1 - host.VcpuRatio(c) / host.limits.cpu_allocation_ratio;
  const double ram = 1 - host.RamRatio(c) / host.limits.ram_allocation_ratio;
  return cpu < ram ? cpu : ram;
}

}  // namespace vc
