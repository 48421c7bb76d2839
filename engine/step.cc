#include "engine/step.h"

#include <array>
#include <utility>

#include "engine/size.h"

namespace vc {
namespace {

constexpr std::array<std::pair<Step::Op, std::string_view>, 30> kOps = {{
    {Step::Op::kCreate, "create"},
    {Step::Op::kDelete, "delete"},
    {Step::Op::kWriteConfig, "write_config"},
    {Step::Op::kStart, "start"},
    {Step::Op::kShutdown, "shutdown"},
    {Step::Op::kSetAutostart, "set_autostart"},
    {Step::Op::kResize, "resize"},
    {Step::Op::kBlockResize, "block_resize"},
    {Step::Op::kUpdateFeatures, "update_features"},
    {Step::Op::kCreateSnapshots, "create_snapshots"},
    {Step::Op::kProtectSnapshot, "protect_snapshot"},
    {Step::Op::kFlatten, "flatten"},
    {Step::Op::kSetVcpusLive, "set_vcpus_live"},
    {Step::Op::kSetMemoryLive, "set_memory_live"},
    {Step::Op::kAttachMemoryLive, "attach_memory_live"},
    {Step::Op::kAttachDiskLive, "attach_disk_live"},
    {Step::Op::kDetachDiskLive, "detach_disk_live"},
    {Step::Op::kAttachInterfaceLive, "attach_interface_live"},
    {Step::Op::kDetachInterfaceLive, "detach_interface_live"},
    {Step::Op::kDefineCephSecret, "define_ceph_secret"},
    {Step::Op::kMigrate, "migrate"},
    {Step::Op::kSetKsm, "set_ksm"},
    {Step::Op::kWriteSeed, "write_seed"},
    {Step::Op::kSnapshotDomain, "snapshot_domain"},
    {Step::Op::kDeleteDomainSnapshot, "delete_domain_snapshot"},
    {Step::Op::kFreezeDomain, "freeze"},
    {Step::Op::kThawDomain, "thaw"},
    {Step::Op::kRemoveSnapshot, "remove_snapshot"},
    {Step::Op::kRollbackSnapshot, "rollback_snapshot"},
    {Step::Op::kRevertDomainSnapshot, "revert_domain_snapshot"},
}};

std::string Text(const Json& args, const char* key) {
  auto it = args.find(key);
  return it != args.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string Bytes(const Json& args, const char* key) {
  auto it = args.find(key);
  if (it == args.end() || !it->is_number_unsigned()) return "?";
  return FormatSize(it->get<std::uint64_t>());
}

}  // namespace

std::string_view OpName(Step::Op op) {
  for (const auto& [o, name] : kOps) {
    if (o == op) return name;
  }
  return "?";
}

std::optional<Step::Op> OpFromName(std::string_view name) {
  for (const auto& [o, n] : kOps) {
    if (n == name) return o;
  }
  return std::nullopt;
}

std::string Step::Describe() const {
  const std::string what = address.ToString();
  switch (op) {
    case Op::kCreate:
      return "create " + what;
    case Op::kDelete:
      return "delete " + what;
    case Op::kWriteConfig:
      return "write persistent config of " + what;
    case Op::kStart:
      return "start " + what;
    case Op::kShutdown:
      return "shut down " + what + " (forced after " +
             args.value("timeout_seconds", Json(0)).dump() + " s)";
    case Op::kSetAutostart:
      return std::string(args.value("autostart", false) ? "enable" : "disable") + " autostart of " +
             what;
    case Op::kResize:
      return (args.value("allow_shrink", false) ? "shrink " : "grow ") + what + " to " +
             Bytes(args, "bytes");
    case Op::kBlockResize:
      return "tell " + what + " that " + Text(args, "target") + " is now " + Bytes(args, "bytes");
    case Op::kUpdateFeatures:
      return "update features of " + what + " (enable " +
             args.value("enable", Json::array()).dump() + ", disable " +
             args.value("disable", Json::array()).dump() + ")";
    case Op::kCreateSnapshots:
      return "create snapshots " + args.value("snapshots", Json::array()).dump() + " of " + what;
    case Op::kProtectSnapshot:
      return "protect snapshot " + Text(args, "snapshot") + " of " + what;
    case Op::kFlatten:
      return "flatten " + what;
    case Op::kSetVcpusLive:
      return "hot-plug vCPUs of " + what + " to " + args.value("vcpus", Json(0)).dump();
    case Op::kSetMemoryLive:
      return "set the balloon of " + what + " to " + Bytes(args, "bytes");
    case Op::kAttachMemoryLive:
      return "hot-add a " + Bytes(args, "bytes") + " DIMM to " + what;
    case Op::kAttachDiskLive:
      return "attach " +
             (args.contains("rbd") ? "RBD image " + Text(args, "rbd") : Text(args, "volume")) +
             " as " + Text(args, "target") + " to " + what;
    case Op::kDetachDiskLive:
      return "detach " + Text(args, "target") + " from " + what;
    case Op::kAttachInterfaceLive:
      return "attach a NIC on " + Text(args, "network") + " (" + Text(args, "mac") + ") to " + what;
    case Op::kDetachInterfaceLive:
      return "detach NIC " + Text(args, "mac") + " from " + what;
    case Op::kDefineCephSecret:
      return "define again the libvirt secret " + Text(args, "uuid") + " (client." +
             Text(args, "user") + ") that the RBD disks of " + what + " use";
    case Op::kMigrate: {
      if (!args.value("live", false)) {
        return "move the stopped " + what + " to " + Text(args, "to") +
               " (define it there, remove it here)";
      }
      const Json disks = args.value("copy_disks", Json::array());
      std::string copied;
      for (const Json& d : disks) copied += (copied.empty() ? "" : ", ") + d.get<std::string>();
      return "migrate " + what + " live to " + Text(args, "to") +
             (copied.empty() ? " (memory only)" : " (memory and disks " + copied + ")");
    }
    case Op::kSetKsm: {
      std::string settings;
      const Json declared = args.value("settings", Json::object());
      for (const auto& [key, value] : declared.items())
        settings += (settings.empty() ? "" : ", ") + key + " = " + value.dump();
      return "set KSM on " + address.name + ": " + settings;
    }
    case Op::kWriteSeed:
      return "write the cloud-init seed of " + what + " to volume " + Text(args, "pool") + "/" +
             Text(args, "volume") + " (" + Text(args, "seed") + ")";
    case Op::kSnapshotDomain: {
      const std::string how = Text(args, "consistency");
      return "snapshot " + Text(args, "snapshot") + " of " + what +
             (how == "quiesce" ? " (file systems frozen by the guest agent)"
              : how == "pause" ? " (guest paused while it is taken)"
                               : " (stopped)");
    }
    case Op::kDeleteDomainSnapshot:
      return "delete snapshot " + Text(args, "snapshot") + " of " + what +
             " (merged into the disks)";
    case Op::kFreezeDomain:
      return (Text(args, "consistency") == "quiesce" ? "freeze the file systems of " : "pause ") +
             what;
    case Op::kThawDomain:
      return (Text(args, "consistency") == "quiesce" ? "thaw the file systems of " : "resume ") +
             what;
    case Op::kRemoveSnapshot:
      return "remove snapshot " + Text(args, "snapshot") + " of " + what;
    case Op::kRollbackSnapshot:
      return "roll " + what + " back to snapshot " + Text(args, "snapshot");
    case Op::kRevertDomainSnapshot:
      return "revert the disks of " + what + " to snapshot " + Text(args, "snapshot");
  }
  return "?";
}

StatusOr<std::uint64_t> ArgBytes(const Step& step, const char* key) {
  auto it = step.args.find(key);
  if (it == step.args.end() || !it->is_number_unsigned() || it->get<std::uint64_t>() == 0) {
    return Status::Internal(step.Describe() + ": the step has no byte count '" + key + "'");
  }
  return it->get<std::uint64_t>();
}

Json StepToJson(const Step& step) {
  return Json{{"op", OpName(step.op)},
              {"address", step.address.ToString()},
              {"args", step.args},
              {"description", step.Describe()}};
}

}  // namespace vc
