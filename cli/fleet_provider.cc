#include "cli/fleet_provider.h"

#include <fmt/format.h>

#include <chrono>
#include <thread>

namespace vc::cli {
namespace {

Address Untagged(Address address) {
  address.host.clear();
  return address;
}

// Runs fn(name) for every host at once; the results in host order.
template <typename T, typename Fn>
std::map<std::string, T> OnEachHost(const std::vector<std::string>& names, Fn fn) {
  std::map<std::string, T> results;
  std::vector<T> slots(names.size(), T(Status::Internal("not run")));
  {
    std::vector<std::jthread> threads;
    for (std::size_t i = 0; i < names.size(); ++i) {
      threads.emplace_back([&, i] {
        try {
          slots[i] = fn(names[i]);
        } catch (const std::exception& e) {
          slots[i] = T(Status::Internal(std::string("unexpected error: ") + e.what()));
        }
      });
    }
  }
  for (std::size_t i = 0; i < names.size(); ++i) results.emplace(names[i], std::move(slots[i]));
  return results;
}

std::string Mib(std::uint64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / 1048576.0);
}

}  // namespace

FleetProvider::FleetProvider(std::map<std::string, Backends*> hosts) : hosts_(std::move(hosts)) {
  uri_ = "fleet of ";
  bool first = true;
  for (const auto& [name, backends] : hosts_) {
    uri_ += (first ? "" : ", ") + name;
    first = false;
  }
}

Backends* FleetProvider::Host(const std::string& name) const {
  auto it = hosts_.find(name);
  return it == hosts_.end() ? nullptr : it->second;
}

Provider* FleetProvider::Cluster() const {
  return hosts_.empty() ? nullptr : hosts_.begin()->second->ceph();
}

StatusOr<ObservedState> FleetProvider::ObserveHost(const std::string& name) {
  Backends* backends = Host(name);
  if (backends == nullptr) return Status::Internal("no host " + name + " in this run");
  StatusOr<ObservedState> state = backends->libvirt().ObserveAll();
  if (!state.ok()) return state.status().WithContext("host " + name);
  ObservedState tagged;
  for (auto& [address, r] : state->resources) {
    Address a = address;
    a.host = name;
    r.address = a;
    tagged.resources.emplace(a, std::move(r));
  }
  // The host itself: its CPUs, memory and KSM, for capacity and the ksm settings.
  StatusOr<std::optional<ObservedResource>> node = ObserveOne(HostAddress(name));
  if (!node.ok()) return node.status();
  if (node->has_value()) tagged.resources.emplace(HostAddress(name), std::move(**node));
  return tagged;
}

std::map<std::string, StatusOr<ObservedState>> FleetProvider::ObserveEachHost() {
  std::vector<std::string> names;
  for (const auto& [name, backends] : hosts_) names.push_back(name);
  return OnEachHost<StatusOr<ObservedState>>(
      names, [this](const std::string& name) { return ObserveHost(name); });
}

Status FleetProvider::ObserveCluster(ObservedState* observed) {
  Provider* cluster = Cluster();
  if (cluster == nullptr) return Status::Ok();
  StatusOr<ObservedState> images = cluster->ObserveAll();
  if (!images.ok()) return images.status();
  for (auto& [address, r] : images->resources) {
    if (address.kind == Kind::kRbdImage) observed->resources[address] = std::move(r);
  }
  return Status::Ok();
}

StatusOr<ObservedState> FleetProvider::ObserveAll() {
  ObservedState merged;
  for (auto& [name, part] : ObserveEachHost()) {
    if (!part.ok()) return part.status();
    for (auto& [address, r] : part->resources) merged.resources.emplace(address, std::move(r));
  }
  if (Status s = ObserveCluster(&merged); !s.ok()) return s;
  return merged;
}

StatusOr<std::optional<ObservedResource>> FleetProvider::ObserveOne(const Address& address) {
  if (address.kind == Kind::kRbdImage) {
    Provider* cluster = Cluster();
    if (cluster == nullptr) return Status::Unsupported("no Ceph cluster in this run");
    return cluster->ObserveOne(address);
  }
  Backends* backends = Host(address.host);
  if (backends == nullptr)
    return Status::Internal(address.ToString() + ": its host is not in this run");
  StatusOr<std::optional<ObservedResource>> one = backends->libvirt().ObserveOne(Untagged(address));
  if (!one.ok()) return one.status().WithContext("host " + address.host);
  if (one->has_value()) (*one)->address = address;
  return one;
}

StatusOr<ObservedState> FleetProvider::ObserveSome(const std::set<Address>& addresses) {
  std::map<std::string, std::set<Address>> by_host;
  for (const Address& a : addresses) by_host[a.kind == Kind::kRbdImage ? "" : a.host].insert(a);
  std::vector<std::string> names;
  for (const auto& [name, set] : by_host) names.push_back(name);
  auto parts = OnEachHost<StatusOr<ObservedState>>(
      names, [&](const std::string& name) -> StatusOr<ObservedState> {
        ObservedState part;
        for (const Address& a : by_host.at(name)) {
          StatusOr<std::optional<ObservedResource>> one = ObserveOne(a);
          if (!one.ok()) {
            if (one.status().code() == Status::Code::kUnsupported) continue;
            return one.status();
          }
          if (one->has_value()) part.resources.emplace(a, std::move(**one));
        }
        return part;
      });
  ObservedState merged;
  for (auto& [name, part] : parts) {
    if (!part.ok()) return part.status();
    for (auto& [address, r] : part->resources) merged.resources.emplace(address, std::move(r));
  }
  return merged;
}

Status FleetProvider::Execute(const Step& step) {
  if (step.op == Step::Op::kMigrate) return Migrate(step);
  if (step.address.kind == Kind::kRbdImage) {
    Provider* cluster = Cluster();
    if (cluster == nullptr) return Status::Unsupported("no Ceph cluster in this run");
    return cluster->Execute(step);
  }
  Backends* backends = Host(step.address.host);
  if (backends == nullptr)
    return Status::Internal(step.address.ToString() + ": its host is not in this run");
  Step local = step;
  local.address.host.clear();
  Status s = backends->provider().Execute(local);
  return s.ok() ? s : s.WithContext("on " + step.address.host);
}

void FleetProvider::Say(const std::string& line) {
  std::lock_guard<std::mutex> lock(say_mu_);
  if (progress_) progress_(line);
}

Status FleetProvider::Migrate(const Step& step) {
  const std::string to = step.args.value("to", "");
  Backends* source = Host(step.address.host);
  Backends* destination = Host(to);
  if (source == nullptr || destination == nullptr) {
    return Status::Internal(step.Describe() + ": a host of the move is not in this run");
  }
  const std::string who = step.address.ToString();
  libvirt::MigrationOptions options;
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  options.progress = [this, who, to, last](const libvirt::MigrationProgress& p) {
    auto now = std::chrono::steady_clock::now();
    if (now - *last < std::chrono::milliseconds(500)) return;
    *last = now;
    std::string line = fmt::format("{}: migrating to {}: {:.1f} s", who, to, p.elapsed_seconds);
    if (p.memory_remaining && p.memory_total && *p.memory_total > 0) {
      line += fmt::format(", memory {} of {} left", Mib(*p.memory_remaining), Mib(*p.memory_total));
    }
    if (p.disk_remaining && p.disk_total && *p.disk_total > 0) {
      line += fmt::format(", disks {} of {} left", Mib(*p.disk_remaining), Mib(*p.disk_total));
    }
    Say(line);
  };
  libvirt::MigrationStats stats;
  const bool copy = !step.args.value("copy_disks", Json::array()).empty();
  Status s =
      source->libvirt().MigrateTo(destination->libvirt(), step.address.name, copy, options, &stats);
  if (!s.ok()) return s.WithContext(step.Describe());
  if (step.args.value("live", false)) {
    Say(fmt::format("{}: migrated to {} in {:.2f} s{}{}", who, to, stats.wall_seconds,
                    stats.downtime_ms ? fmt::format(", downtime {} ms", *stats.downtime_ms) : "",
                    stats.data_processed ? ", " + Mib(*stats.data_processed) + " sent" : ""));
  }
  return Status::Ok();
}

void FleetProvider::CheckMoves(const std::vector<MoveCandidate>& candidates,
                               ObservedState* observed) {
  for (const MoveCandidate& move : candidates) {
    Backends* source = Host(move.domain.host);
    Backends* destination = Host(move.to);
    if (source == nullptr || destination == nullptr) continue;
    std::vector<std::string> missing;
    Status s = source->libvirt().CheckCpuOn(destination->libvirt(), move.domain.name, &missing);
    Json result = Json::array();
    if (!s.ok() && !missing.empty()) {
      for (const std::string& f : missing) result.push_back(f);
    } else if (!s.ok()) {
      result = Json{{"error", s.message()}};
    }
    observed->cpu_checks[CpuCheckKey(move.domain, move.to)] = result;
  }
}

void FleetProvider::ComputeBaseline(const Document& doc, ObservedState* observed) {
  bool wanted = false;
  for (const auto& [address, r] : doc.resources) {
    wanted = wanted || (address.kind == Kind::kDomain && !r.absent && r.spec.contains("cpu") &&
                        r.spec["cpu"].value("mode", "") == "baseline");
  }
  if (!wanted) return;
  std::vector<libvirt::LibvirtProvider*> hosts;
  for (const auto& [name, backends] : hosts_) hosts.push_back(&backends->libvirt());
  StatusOr<Json> baseline = libvirt::LibvirtProvider::BaselineOf(hosts);
  observed->cpu_baseline = baseline.ok() ? *baseline : Json{{"error", baseline.status().message()}};
}

}  // namespace vc::cli
