#include "engine/plan_checks.h"

#include <optional>

#include "engine/change_rules.h"
#include "engine/domain_snapshots.h"
#include "engine/size.h"

namespace vc {
namespace {

void Refuse(Plan* plan, ErrorCode code, const Address& address, const std::string& summary,
            const std::string& detail = "", const std::string& related = "") {
  plan->diagnostics.push_back(ErrorDiagnostic(code, address.ToString(), summary, detail, related));
}

bool DiskIs(const Json& disk, const Address& image) {
  return disk.value(image.kind == Kind::kRbdImage ? "rbd" : "volume", "") == image.name;
}

// Every observed domain that has `image` as a disk in its config or its running definition (a
// volume's users are on its host; an RBD image's on any).
std::vector<Address> Users(const ObservedState& state, const Address& image) {
  std::vector<Address> users;
  for (const auto& [address, r] : state.resources) {
    if (address.kind != Kind::kDomain) continue;
    if (image.kind == Kind::kVolume && address.host != image.host) continue;
    bool uses = false;
    for (const Json* spec : {&r.spec, &r.live}) {
      if (!spec->is_object()) continue;
      for (const Json& disk : spec->value("disks", Json::array()))
        uses = uses || DiskIs(disk, image);
    }
    if (uses) users.push_back(address);
  }
  return users;
}

// Network modes this version can create (the others can be declared for existing networks).
bool CanCreateNetworkMode(const std::string& mode) {
  return mode == "isolated" || mode == "bridge";
}

}  // namespace

void CheckPlan(const ObservedState& observed, const std::set<Address>& deleted, Plan* plan) {
  // An RBD image cannot go while a clone that stays depends on it.
  for (const Address& address : deleted) {
    if (address.kind != Kind::kRbdImage) continue;
    for (const auto& [other, r] : observed.resources) {
      std::string source = r.spec.is_object() ? r.spec.value("clone_from", "") : "";
      if (other.kind == Kind::kRbdImage && source.substr(0, source.find('@')) == address.name &&
          !deleted.count(other)) {
        Refuse(plan, ErrorCode::kInUse, address,
               address.ToString() + ": cannot delete: the clone " + other.name +
                   " depends on it (flatten or delete the clone first)",
               "", other.ToString());
      }
    }
  }

  // A volume cannot go while a domain that stays keeps using it.
  for (const Address& address : deleted) {
    if (address.kind != Kind::kVolume && address.kind != Kind::kRbdImage) continue;
    for (const Address& user : Users(observed, address)) {
      if (!deleted.count(user)) {
        Refuse(plan, ErrorCode::kInUse, address,
               address.ToString() + ": cannot delete: domain " + user.name +
                   (user.host.empty() ? "" : " on " + user.host) +
                   " uses it (remove the disk or the domain first)",
               "", user.ToString());
      }
    }
  }

  for (const Change& change : plan->changes) {
    // A running guest cannot be shrunk under: its disk would lose its end while in use.
    for (const AttributeChange& a : change.attributes) {
      bool shrink =
          (a.path == "capacity" || a.path == "size") && a.disruption == Disruption::kDestructive;
      if (!shrink || change.action != Action::kUpdate) continue;
      for (const auto& [address, r] : observed.resources) {
        if (address.kind != Kind::kDomain || !IsRunning(r) || !r.live.is_object()) continue;
        if (change.address.kind == Kind::kVolume && address.host != change.address.host) continue;
        for (const Json& disk : r.live.value("disks", Json::array())) {
          if (!DiskIs(disk, change.address)) continue;
          Refuse(plan, ErrorCode::kInUse, change.address,
                 change.address.ToString() + ": cannot shrink while domain " + address.name +
                     " runs with it as " + disk.value("target", "") + " (stop it first)",
                 "", address.ToString());
        }
      }
    }

    const bool creates = change.action == Action::kCreate || change.action == Action::kReplace;
    if (creates && change.address.kind == Kind::kNetwork) {
      std::string mode = change.desired.value("mode", "");
      if (!CanCreateNetworkMode(mode)) {
        Refuse(plan, ErrorCode::kUnsupported, change.address,
               "networks." + change.address.name + ".mode: cannot create a network of mode " +
                   mode + ": this version creates isolated and bridge networks (" + mode +
                   " networks that exist can be declared and are left as they are)");
      }
    }

    // Writing a config whose memory is not above its DIMMs would leave no boot memory.
    if (change.address.kind == Kind::kDomain && change.action == Action::kUpdate &&
        change.desired.contains("memory")) {
      auto it = observed.resources.find(change.address);
      std::uint64_t dimms = it == observed.resources.end() || !it->second.facts.is_object()
                                ? 0
                                : SizeBytes(it->second.facts.value("config_dimm_memory", Json()));
      std::uint64_t memory = SizeBytes(change.desired["memory"]);
      if (dimms > 0 && memory <= dimms) {
        Refuse(plan, ErrorCode::kInvalidValue, change.address,
               "domains." + change.address.name +
                   ".memory: " + change.desired["memory"].get<std::string>() +
                   " is not more than the hot-plugged DIMMs in its persistent config (" +
                   FormatSize(dimms) + ")");
      }
    }

    // Taking, deleting or merging snapshots acts on the domain's snapshot record: one that is
    // not what virtconverge writes is never acted on.
    if (change.address.kind == Kind::kDomain &&
        (change.action == Action::kDelete || change.desired.contains("snapshots"))) {
      auto it = observed.resources.find(change.address);
      std::optional<std::string> bad =
          it == observed.resources.end() ? std::nullopt : BadSnapshotRecord(it->second);
      if (bad) {
        Refuse(plan, ErrorCode::kInvalidValue, change.address,
               "domains." + change.address.name + ": " + *bad);
      }
    }

    if (change.disruption() == Disruption::kDestructive && !plan->options.allow_destroy) {
      std::string what;
      for (const AttributeChange& a : change.attributes) {
        if (a.disruption == Disruption::kDestructive)
          what += (what.empty() ? "" : "; ") + a.path + ": " + a.reason;
      }
      Refuse(plan, ErrorCode::kNeedsAllowDestroy, change.address,
             change.address.ToString() + ": destructive change refused without --allow-destroy",
             what);
    }
  }
}

}  // namespace vc
