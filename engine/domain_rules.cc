#include "engine/domain_rules.h"

#include <algorithm>
#include <random>
#include <set>

#include <fmt/format.h>

#include "engine/planner.h"
#include "engine/size.h"

namespace vc {
namespace {

const std::set<std::string> kHardware = {"vcpus", "max_vcpus",  "memory", "max_memory", "disks",
                                         "interfaces", "virt_type", "cpu"};

std::uint64_t Bytes(const Json& size) {
  return size.is_string() ? ParseSize(size.get<std::string>()).value_or(0) : 0;
}

std::uint64_t HotplugUnit(const Json& desired) {
  return desired.contains("memory_hotplug_unit") ? Bytes(desired["memory_hotplug_unit"])
                                                 : kDefaultMemoryHotplugUnit;
}

std::uint64_t RoundUp(std::uint64_t value, std::uint64_t unit) {
  return unit == 0 ? value : (value + unit - 1) / unit * unit;
}

bool SameDisk(const Json& want, const Json& have) {
  return want.value("volume", "") == have.value("volume", "") &&
         want.value("target", "") == have.value("target", "") &&
         want.value("bus", have.value("bus", "")) == have.value("bus", "");
}

bool SameNic(const Json& want, const Json& have) {
  return want.value("network", "") == have.value("network", "") &&
         want.value("mac", have.value("mac", "")) == have.value("mac", "") &&
         want.value("model", have.value("model", "")) == have.value("model", "");
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

std::string RandomMac() {
  std::random_device device;
  std::uniform_int_distribution<int> byte(0, 255);
  return fmt::format("52:54:00:{:02x}:{:02x}:{:02x}", byte(device), byte(device), byte(device));
}

const Json& LiveList(const ObservedResource& observed, const char* field) {
  static const Json kEmpty = Json::array();
  if (!observed.live.is_object() || !observed.live.contains(field)) return kEmpty;
  return observed.live[field];
}

}  // namespace

bool IsDomainHardware(const std::string& field) { return kHardware.count(field) > 0; }

bool IsPolicyField(const std::string& field) {
  return field == "restart" || field == "memory_hotplug_unit";
}

bool HasComparableLiveValue(const std::string& field) {
  return IsDomainHardware(field) && field != "cpu" && field != "virt_type";
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
    if (wanted > max) return {false, fmt::format("more than the {} vCPU slots the guest booted with", max)};
    if (wanted > have) return {true, "hot-plug"};
    // Live unplug needs the guest's cooperation and under QEMU 7.2 with TCG can crash QEMU or leave
    // libvirt and QEMU disagreeing (see docs/live-changes.md): it is not attempted.
    return {false, "vCPU unplug is not attempted live"};
  }
  if (field == "memory") {
    std::uint64_t wanted = Bytes(want);
    std::uint64_t total = Bytes(facts.value("memory_total", Json()));
    std::uint64_t ceiling = Bytes(facts.value("hotplug_max_memory", Json()));
    if (desired.contains("max_memory") && Bytes(desired["max_memory"]) != Bytes(live.value("max_memory", Json()))) {
      return {false, "max_memory changes too, which needs a restart"};
    }
    if (wanted <= total) return {true, "balloon"};
    int free_slots = facts.value("memory_slots", 0) - facts.value("memory_slots_used", 0);
    std::uint64_t dimm = RoundUp(wanted - total, HotplugUnit(desired));
    if (ceiling == 0 || free_slots <= 0) {
      return {false, "above the boot memory and the domain has no free memory hot-plug slot"};
    }
    if (total + dimm > ceiling) {
      return {false, fmt::format("a {} DIMM would pass max_memory {}", FormatSize(dimm), FormatSize(ceiling))};
    }
    return {true, fmt::format("+{} DIMM", FormatSize(dimm)) +
                      (total + dimm > wanted ? fmt::format(", balloon to {}", FormatSize(wanted)) : "")};
  }
  if (field == "disks") {
    const Json& have = LiveList(observed, "disks");
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
        if (target == gone) return {false, "disk " + target + " changes in place, which needs a restart"};
      }
    }
    std::string reason;
    for (const std::string& t : attach) reason += (reason.empty() ? "" : ", ") + ("attach " + t);
    for (const std::string& t : detach) reason += (reason.empty() ? "" : ", ") + ("detach " + t);
    return {true, reason.empty() ? "hot-plug" : reason};
  }
  if (field == "interfaces") {
    const Json& have = LiveList(observed, "interfaces");
    Pairing p = Pair(want, have, SameNic);
    int attach = static_cast<int>(std::count(p.matched.begin(), p.matched.end(), -1));
    int detach = static_cast<int>(std::count(p.kept.begin(), p.kept.end(), false));
    std::string reason;
    if (attach > 0) reason += fmt::format("attach {} NIC(s)", attach);
    if (detach > 0) reason += fmt::format("{}detach {} NIC(s)", reason.empty() ? "" : ", ", detach);
    return {true, reason.empty() ? "hot-plug" : reason};
  }
  if (field == "max_vcpus") return {false, "vCPU slots are fixed at boot"};
  if (field == "max_memory") return {false, "the memory ceiling is fixed at boot"};
  if (field == "cpu") return {false, "the CPU model is fixed at boot"};
  if (field == "virt_type") return {false, "the accelerator is fixed at boot"};
  return {false, "takes effect at the next boot"};
}

Json WithMacsForNewInterfaces(const Json& desired, const ObservedResource& observed) {
  if (!desired.contains("interfaces")) return desired;
  Json out = desired;
  const Json& have = LiveList(observed, "interfaces");
  std::vector<int> matched = Pair(desired["interfaces"], have, SameNic).matched;
  // A NIC already in the persistent config (from an earlier run) keeps the MAC it has there.
  std::set<std::string> live_macs;
  for (const Json& nic : have) live_macs.insert(nic.value("mac", ""));
  Json config = observed.spec.value("interfaces", Json::array());
  std::set<std::string> taken;
  for (std::size_t i = 0; i < matched.size(); ++i) {
    Json& nic = out["interfaces"][i];
    if (matched[i] >= 0 || nic.contains("mac")) continue;
    std::string mac;
    for (const Json& c : config) {
      std::string candidate = c.value("mac", "");
      if (c.value("network", "") == nic.value("network", "") && !candidate.empty() &&
          !live_macs.count(candidate) && !taken.count(candidate)) {
        mac = candidate;
        break;
      }
    }
    if (mac.empty()) mac = RandomMac();
    taken.insert(mac);
    nic["mac"] = mac;
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
    std::uint64_t wanted = Bytes(want);
    std::uint64_t total = Bytes(observed.facts.value("memory_total", Json()));
    if (wanted > total) {
      std::uint64_t dimm = RoundUp(wanted - total, HotplugUnit(desired));
      steps.push_back({Step::Op::kAttachMemoryLive, address, {{"size", FormatSize(dimm)}}});
      if (total + dimm != wanted) {
        steps.push_back({Step::Op::kSetMemoryLive, address, {{"memory", want}}});
      }
    } else {
      steps.push_back({Step::Op::kSetMemoryLive, address, {{"memory", want}}});
    }
  } else if (change.path == "disks") {
    DeviceSteps(address, want, LiveList(observed, "disks"), SameDisk, Step::Op::kDetachDiskLive, "target",
                Step::Op::kAttachDiskLive, &steps);
  } else if (change.path == "interfaces") {
    // The declared interfaces with the MACs chosen for new ones (WithMacsForNewInterfaces).
    DeviceSteps(address, desired.value("interfaces", Json::array()), LiveList(observed, "interfaces"), SameNic,
                Step::Op::kDetachInterfaceLive, "mac", Step::Op::kAttachInterfaceLive, &steps);
  }
  return steps;
}

}  // namespace vc
