#include "engine/domain_rules.h"

#include <fmt/format.h>

#include <algorithm>

#include "engine/cloud_init.h"
#include "engine/diff.h"
#include "engine/field_table.h"
#include "engine/size.h"

namespace vc {
namespace {

std::uint64_t HotplugUnit(const Json& desired) {
  return desired.contains("memory_hotplug_unit") ? SizeBytes(desired["memory_hotplug_unit"])
                                                 : kDefaultMemoryHotplugUnit;
}

std::uint64_t RoundUp(std::uint64_t value, std::uint64_t unit) {
  return unit == 0 ? value : (value + unit - 1) / unit * unit;
}

// A declared sub-field `key` of `want` equals `have`'s; undeclared ones match anything.
bool DeclaredEqual(const Json& want, const Json& have, const char* key) {
  auto w = want.find(key);
  if (w == want.end()) return true;
  auto h = have.find(key);
  return h != have.end() && *h == *w;
}

// How declared devices (`want`) pair with the running guest's (`have`): for each wanted one the
// index of its running match or -1 (in order, each used once), and which running ones are kept.
struct Pairing {
  std::vector<int> matched;
  std::vector<bool> kept;
};

template <typename Same>
Pairing Pair(const Json& want, const Json& have, Same same) {
  Pairing p{std::vector<int>(want.size(), -1), std::vector<bool>(have.size(), false)};
  for (std::size_t i = 0; i < want.size(); ++i) {
    for (std::size_t j = 0; j < have.size(); ++j) {
      if (!p.kept[j] && same(want[i], have[j])) {
        p.kept[j] = true;
        p.matched[i] = static_cast<int>(j);
        break;
      }
    }
  }
  return p;
}

// The live steps that turn the running devices `have` into `want`: detach each running device no
// declared one matches (identified by its `key` field), then attach each declared one unmatched.
template <typename Same>
void DeviceSteps(const Address& address, const Json& want, const Json& have, Same same,
                 Step::Op detach, const char* key, Step::Op attach, std::vector<Step>* steps) {
  Pairing p = Pair(want, have, same);
  for (std::size_t j = 0; j < have.size(); ++j) {
    if (!p.kept[j]) steps->push_back({detach, address, {{key, have[j][key]}}});
  }
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (p.matched[i] < 0) steps->push_back({attach, address, want[i]});
  }
}

const Json& List(const Json& spec, const char* field) {
  static const Json kEmpty = Json::array();
  if (!spec.is_object() || !spec.contains(field) || !spec[field].is_array()) return kEmpty;
  return spec[field];
}

// A locally administered-looking QEMU MAC (52:54:00 is QEMU's prefix) derived from `seed`:
// FNV-1a, so the same seed gives the same MAC on every run and machine.
std::string DerivedMac(const std::string& seed) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : seed) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return fmt::format("52:54:00:{:02x}:{:02x}:{:02x}", (hash >> 16) & 0xff, (hash >> 8) & 0xff,
                     hash & 0xff);
}

}  // namespace

bool IsDomainHardware(const std::string& field) {
  return HasChangeClass(Kind::kDomain, field, ChangeClass::kRestart);
}

bool HasComparableLiveValue(const std::string& field) {
  const FieldSpec* f = FindField(Kind::kDomain, field);
  return f != nullptr && f->compared_running;
}

bool SameDisk(const Json& want, const Json& have) {
  return want.value("volume", "") == have.value("volume", "") &&
         want.value("rbd", "") == have.value("rbd", "") &&
         want.value("target", "") == have.value("target", "") && DeclaredEqual(want, have, "bus") &&
         DeclaredEqual(want, have, "discard");
}

bool SameNic(const Json& want, const Json& have) {
  return want.value("network", "") == have.value("network", "") &&
         DeclaredEqual(want, have, "mac") && DeclaredEqual(want, have, "model");
}

LiveVerdict ClassifyLive(const std::string& field, const Json& want, const Json& desired,
                         const ObservedResource& observed) {
  const Json& live = observed.live;
  const Json& facts = observed.facts;
  if (field == "vcpus") {
    int have = live.value("vcpus", 0);
    int max = live.value("max_vcpus", 0);
    int wanted = want.get<int>();
    if (desired.contains("max_vcpus") && desired["max_vcpus"] != max) {
      return {false, "max_vcpus changes too, which needs a restart"};
    }
    if (wanted > max)
      return {false, fmt::format("more than the {} vCPU slots the guest booted with", max)};
    if (wanted > have) return {true, "hot-plug"};
    // Live unplug needs the guest's cooperation and under QEMU 7.2 with TCG can crash QEMU or leave
    // libvirt and QEMU disagreeing (see docs/live-changes.md): it is not attempted.
    return {false, "vCPU unplug is not attempted live"};
  }
  if (field == "memory") {
    std::uint64_t wanted = SizeBytes(want);
    std::uint64_t total = SizeBytes(facts.value("memory_total", Json()));
    std::uint64_t ceiling = SizeBytes(facts.value("hotplug_max_memory", Json()));
    if (desired.contains("max_memory") &&
        SizeBytes(desired["max_memory"]) != SizeBytes(live.value("max_memory", Json()))) {
      return {false, "max_memory changes too, which needs a restart"};
    }
    // The live memory already differs from the config and the guest reports no memory
    // statistics: its balloon driver did not follow before and nothing says it can now (a
    // guest without one, as virt-install makes them with --memory N,maxmemory=M). Pending, so
    // that every run does not fail waiting for it.
    const bool balloon_silent = facts.value("balloon_driver", "") == "silent";
    const char* kSilent =
        "the guest's balloon driver does not answer (no memory statistics from the guest): it "
        "cannot follow a balloon change";
    if (wanted <= total)
      return balloon_silent ? LiveVerdict{false, kSilent, true} : LiveVerdict{true, "balloon"};
    int free_slots = facts.value("memory_slots", 0) - facts.value("memory_slots_used", 0);
    std::uint64_t dimm = RoundUp(wanted - total, HotplugUnit(desired));
    if (ceiling == 0 || free_slots <= 0) {
      return {false, "above the boot memory and the domain has no free memory hot-plug slot"};
    }
    if (total + dimm > ceiling) {
      return {false, fmt::format("a {} DIMM would pass max_memory {}", FormatSize(dimm),
                                 FormatSize(ceiling))};
    }
    if (total + dimm > wanted && balloon_silent) return {false, kSilent, true};
    return {true,
            fmt::format("+{} DIMM", FormatSize(dimm)) +
                (total + dimm > wanted ? fmt::format(", balloon to {}", FormatSize(wanted)) : "")};
  }
  if (field == "disks") {
    const Json& have = List(live, "disks");
    std::vector<std::string> attach;
    std::vector<std::string> detach;
    Pairing p = Pair(want, have, SameDisk);
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (p.matched[i] < 0) attach.push_back(want[i].value("target", ""));
    }
    for (std::size_t j = 0; j < have.size(); ++j) {
      if (!p.kept[j]) detach.push_back(have[j].value("target", ""));
    }
    for (const std::string& target : attach) {
      for (const std::string& gone : detach) {
        if (target == gone)
          return {false, "disk " + target + " changes in place, which needs a restart"};
      }
    }
    std::string reason;
    for (const std::string& t : attach) reason += (reason.empty() ? "" : ", ") + ("attach " + t);
    for (const std::string& t : detach) reason += (reason.empty() ? "" : ", ") + ("detach " + t);
    return {true, reason.empty() ? "hot-plug" : reason};
  }
  if (field == "interfaces") {
    const Json& have = List(live, "interfaces");
    Pairing p = Pair(want, have, SameNic);
    int attach = static_cast<int>(std::count(p.matched.begin(), p.matched.end(), -1));
    int detach = static_cast<int>(std::count(p.kept.begin(), p.kept.end(), false));
    std::string reason;
    if (attach > 0) reason += fmt::format("attach {} NIC(s)", attach);
    if (detach > 0) reason += fmt::format("{}detach {} NIC(s)", reason.empty() ? "" : ", ", detach);
    return {true, reason.empty() ? "hot-plug" : reason};
  }
  // No live rule: the field's x-reason says why it waits for the next boot.
  const FieldSpec* spec = FindField(Kind::kDomain, field);
  return {false, spec != nullptr && !spec->reason.empty() ? spec->reason
                                                          : "takes effect at the next boot"};
}

void PlanRunningHardware(const DesiredResource& desired, const ObservedResource& actual,
                         bool restart_allowed, Change* change, std::vector<Pending>* pending) {
  for (const auto& [key, want] : desired.spec.items()) {
    if (!IsDomainHardware(key)) continue;
    Json config = Project(key == "cloud_init" ? SeedAsCompared(want, actual.spec.value(key, Json()))
                                              : actual.spec.value(key, Json()),
                          want);
    if (!HasComparableLiveValue(key)) {
      if (config != want) {
        change->attributes.push_back({key, config, want, Disruption::kRestart,
                                      ClassifyLive(key, want, desired.spec, actual).reason});
      }
      continue;
    }
    Json live = Project(actual.live.value(key, Json()), want);
    if (live == want) {
      if (config != want) {
        change->attributes.push_back({key, config, want, Disruption::kNone,
                                      "the running guest has it already: persistent config only"});
      }
      continue;
    }
    LiveVerdict verdict = ClassifyLive(key, want, desired.spec, actual);
    if (verdict.live) {
      change->attributes.push_back({key, live, want, Disruption::kLive, verdict.reason});
    } else if (config != want) {
      change->attributes.push_back(
          {key, live, want, Disruption::kRestart,
           verdict.reason + "; written to the persistent config for the next boot"});
    } else if (restart_allowed) {
      change->attributes.push_back({key, live, want, Disruption::kRestart,
                                    "pending in the persistent config; the domain is restarted"});
    } else {
      pending->push_back({desired.address, key, live, config,
                          verdict.guest_holds_back ? verdict.reason : std::string()});
    }
  }
}

std::set<std::string> ObservedMacs(const ObservedState& state) {
  std::set<std::string> macs;
  for (const auto& [address, r] : state.resources) {
    if (address.kind != Kind::kDomain) continue;
    for (const Json* spec : {&r.spec, &r.live}) {
      for (const Json& nic : List(*spec, "interfaces")) {
        if (nic.contains("mac") && nic["mac"].is_string())
          macs.insert(nic["mac"].get<std::string>());
      }
    }
  }
  return macs;
}

Json WithChosenMacs(const Json& desired, const std::string& domain,
                    const ObservedResource* observed, std::set<std::string>* taken) {
  if (!desired.contains("interfaces")) return desired;
  Json out = desired;
  Json& nics = out["interfaces"];
  const Json& config = observed != nullptr ? List(observed->spec, "interfaces") : List(Json(), "");
  const bool running = observed != nullptr && observed->live.is_object();
  if (running) {
    // Interfaces the guest has keep their MAC; a new one takes a MAC its persistent config has
    // on the same network but the guest has not (an earlier run wrote it there), if any.
    const Json& live = List(observed->live, "interfaces");
    std::vector<int> matched = Pair(desired["interfaces"], live, SameNic).matched;
    std::set<std::string> live_macs;
    for (const Json& nic : live) live_macs.insert(nic.value("mac", ""));
    std::set<std::string> reused;
    for (std::size_t i = 0; i < nics.size(); ++i) {
      if (nics[i].contains("mac")) continue;
      if (matched[i] >= 0 && live[static_cast<std::size_t>(matched[i])].contains("mac")) {
        nics[i]["mac"] = live[static_cast<std::size_t>(matched[i])]["mac"];
        continue;
      }
      for (const Json& c : config) {
        std::string candidate = c.value("mac", "");
        if (c.value("network", "") == nics[i].value("network", "") && !candidate.empty() &&
            !live_macs.count(candidate) && !reused.count(candidate)) {
          nics[i]["mac"] = candidate;
          reused.insert(candidate);
          break;
        }
      }
    }
  } else {
    // A stopped domain's config keeps the MAC of the interface at the same position on the same
    // network (what rewriting its config preserves).
    for (std::size_t i = 0; i < nics.size() && i < config.size(); ++i) {
      if (!nics[i].contains("mac") &&
          config[i].value("network", "") == nics[i].value("network", "") &&
          config[i].contains("mac")) {
        nics[i]["mac"] = config[i]["mac"];
      }
    }
  }
  for (std::size_t i = 0; i < nics.size(); ++i) {
    if (nics[i].contains("mac")) continue;
    std::string mac;
    for (int attempt = 0; mac.empty() || taken->count(mac); ++attempt) {
      mac =
          DerivedMac(fmt::format("{}|{}|{}|{}", domain, i, nics[i].value("network", ""), attempt));
    }
    taken->insert(mac);
    nics[i]["mac"] = mac;
  }
  return out;
}

std::vector<Step> LiveSteps(const Address& address, const AttributeChange& change,
                            const Json& desired, const ObservedResource& observed) {
  std::vector<Step> steps;
  const Json& want = change.after;
  if (change.path == "vcpus") {
    steps.push_back({Step::Op::kSetVcpusLive, address, {{"vcpus", want}}});
  } else if (change.path == "memory") {
    std::uint64_t wanted = SizeBytes(want);
    std::uint64_t total = SizeBytes(observed.facts.value("memory_total", Json()));
    if (wanted > total) {
      std::uint64_t dimm = RoundUp(wanted - total, HotplugUnit(desired));
      steps.push_back({Step::Op::kAttachMemoryLive, address, {{"bytes", dimm}}});
      if (total + dimm != wanted)
        steps.push_back({Step::Op::kSetMemoryLive, address, {{"bytes", wanted}}});
    } else {
      steps.push_back({Step::Op::kSetMemoryLive, address, {{"bytes", wanted}}});
    }
  } else if (change.path == "disks") {
    DeviceSteps(address, want, List(observed.live, "disks"), SameDisk, Step::Op::kDetachDiskLive,
                "target", Step::Op::kAttachDiskLive, &steps);
  } else if (change.path == "interfaces") {
    DeviceSteps(address, List(desired, "interfaces"), List(observed.live, "interfaces"), SameNic,
                Step::Op::kDetachInterfaceLive, "mac", Step::Op::kAttachInterfaceLive, &steps);
  }
  return steps;
}

}  // namespace vc
