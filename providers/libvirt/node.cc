#include "providers/libvirt/node.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include "providers/libvirt/libvirt_error.h"

namespace vc::libvirt {
namespace {

std::string SysfsPath(const char* name) { return std::string(kKsmSysfs) + "/" + name; }

std::optional<unsigned long long> ReadSysfs(const char* name) {
  std::ifstream in(SysfsPath(name));
  unsigned long long value = 0;
  if (!(in >> value)) return std::nullopt;
  return value;
}

Status WriteSysfs(const char* name, unsigned long long value) {
  const std::string path = SysfsPath(name);
  std::ofstream out(path);
  if (!out) {
    return Status::Unavailable("cannot open " + path + ": " + std::strerror(errno))
        .WithErrorCode(ErrorCode::kOperationFailed);
  }
  out << value << std::flush;
  if (!out) {
    return Status::Internal("writing " + std::to_string(value) + " to " + path +
                            " failed: " + std::strerror(errno))
        .WithErrorCode(ErrorCode::kOperationFailed);
  }
  return Status::Ok();
}

// Why KSM's run switch cannot be used for `uri` from here, or "" when it can.
std::string RunSwitchUnreachable(const std::string& uri) {
  if (!IsThisMachine(uri)) {
    return uri +
           " is another machine: libvirt has no parameter for KSM's run switch, and only "
           "this machine's /sys/kernel/mm/ksm/run is reachable";
  }
  if (access(SysfsPath("run").c_str(), W_OK) != 0)
    return SysfsPath("run") + " is not writable here (" + std::strerror(errno) + ")";
  return "";
}

// The node memory parameters (shm_*), freed on every path.
class NodeMemoryParameters {
 public:
  ~NodeMemoryParameters() {
    if (params_ != nullptr) virTypedParamsFree(params_, count_);
  }
  Status Read(virConnectPtr conn) {
    int n = 0;
    if (virNodeGetMemoryParameters(conn, nullptr, &n, 0) < 0)
      return LastError("reading the node memory parameters");
    if (n <= 0) return Status::Ok();
    params_ = static_cast<virTypedParameterPtr>(
        calloc(static_cast<std::size_t>(n), sizeof(virTypedParameter)));
    if (params_ == nullptr) return Status::Internal("out of memory");
    count_ = n;
    if (virNodeGetMemoryParameters(conn, params_, &count_, 0) < 0)
      return LastError("reading the node memory parameters");
    return Status::Ok();
  }
  std::optional<unsigned long long> Get(const char* name) const {
    for (int i = 0; i < count_; ++i) {
      const virTypedParameter& p = params_[i];
      if (std::strcmp(p.field, name) != 0) continue;
      if (p.type == VIR_TYPED_PARAM_UINT) return p.value.ui;
      if (p.type == VIR_TYPED_PARAM_ULLONG) return p.value.ul;
    }
    return std::nullopt;
  }

 private:
  virTypedParameterPtr params_ = nullptr;
  int count_ = 0;
};

Status SetParameters(virConnectPtr conn, const Json& settings) {
  virTypedParameterPtr params = nullptr;
  int count = 0;
  int max = 0;
  struct Free {
    virTypedParameterPtr* p;
    int* n;
    ~Free() { virTypedParamsFree(*p, *n); }
  } free_params{&params, &count};
  auto add = [&](const char* field, unsigned int value) {
    return virTypedParamsAddUInt(&params, &count, &max, field, value) == 0;
  };
  bool ok = true;
  if (settings.contains("pages_to_scan"))
    ok = ok && add(VIR_NODE_MEMORY_SHARED_PAGES_TO_SCAN, settings["pages_to_scan"].get<unsigned>());
  if (settings.contains("sleep_millisecs"))
    ok = ok &&
         add(VIR_NODE_MEMORY_SHARED_SLEEP_MILLISECS, settings["sleep_millisecs"].get<unsigned>());
  if (settings.contains("merge_across_nodes"))
    ok = ok && add(VIR_NODE_MEMORY_SHARED_MERGE_ACROSS_NODES,
                   settings["merge_across_nodes"].get<bool>() ? 1U : 0U);
  if (!ok) return LastError("building the node memory parameters");
  if (count == 0) return Status::Ok();
  if (virNodeSetMemoryParameters(conn, params, count, 0) < 0)
    return LastError("setting KSM through the node memory parameters");
  return Status::Ok();
}

}  // namespace

bool IsThisMachine(const std::string& uri) {
  const std::size_t scheme = uri.find("://");
  if (scheme == std::string::npos) return false;  // an alias: where it leads is not known here
  // A transport that may lead elsewhere even from a loopback address (an ssh port forward, an
  // external command) is not this machine; unix sockets and tcp/tls to loopback are.
  const std::string driver = uri.substr(0, scheme);
  if (const std::size_t plus = driver.find('+'); plus != std::string::npos) {
    const std::string transport = driver.substr(plus + 1);
    if (transport != "unix" && transport != "tcp" && transport != "tls") return false;
  }
  if (uri.find("command=") != std::string::npos) return false;
  std::string authority = uri.substr(scheme + 3, uri.find('/', scheme + 3) - (scheme + 3));
  if (std::size_t at = authority.rfind('@'); at != std::string::npos)
    authority = authority.substr(at + 1);
  std::string host = authority;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (std::size_t colon = host.find(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  if (host.empty() || host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

StatusOr<ObservedResource> ReadNode(virConnectPtr conn, const std::string& uri) {
  ObservedResource r{{Kind::kHost, "", ""}, Json::object(), nullptr, false, Json::object()};
  virNodeInfo info{};
  if (virNodeGetInfo(conn, &info) < 0) return LastError("reading the node info");
  r.facts["cpus"] = info.cpus;
  r.facts["memory"] = static_cast<std::uint64_t>(info.memory) * 1024;  // KiB
  unsigned long long free_bytes = virNodeGetFreeMemory(conn);
  if (free_bytes > 0) r.facts["free_memory"] = free_bytes;
  NodeMemoryParameters params;
  if (Status s = params.Read(conn); !s.ok()) {
    if (s.code() == Status::Code::kUnsupported) return r;  // no KSM through this driver
    return s;
  }
  Json ksm = Json::object();
  if (auto v = params.Get(VIR_NODE_MEMORY_SHARED_PAGES_TO_SCAN)) ksm["pages_to_scan"] = *v;
  if (auto v = params.Get(VIR_NODE_MEMORY_SHARED_SLEEP_MILLISECS)) ksm["sleep_millisecs"] = *v;
  if (auto v = params.Get(VIR_NODE_MEMORY_SHARED_MERGE_ACROSS_NODES))
    ksm["merge_across_nodes"] = *v != 0;
  const std::string unreachable = RunSwitchUnreachable(uri);
  if (IsThisMachine(uri)) {
    if (auto run = ReadSysfs("run")) ksm["enabled"] = *run == 1;
  }
  r.spec["ksm"] = ksm;
  r.facts["ksm_run_switch"] = unreachable.empty() ? std::string("local") : unreachable;
  const std::uint64_t page = IsThisMachine(uri) ? static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE))
                                                : 4096;  // x86-64's; a remote host's is not told
  Json stats = {{"page_size", page}};
  for (const auto& [name, field] :
       {std::pair{"pages_shared", VIR_NODE_MEMORY_SHARED_PAGES_SHARED},
        std::pair{"pages_sharing", VIR_NODE_MEMORY_SHARED_PAGES_SHARING},
        std::pair{"pages_unshared", VIR_NODE_MEMORY_SHARED_PAGES_UNSHARED},
        std::pair{"full_scans", VIR_NODE_MEMORY_SHARED_FULL_SCANS}}) {
    if (auto v = params.Get(field)) stats[name] = *v;
  }
  // pages_shared: the merged pages kept; pages_sharing: the guest pages mapped onto them
  // beyond the first, i.e. what merging saves (the kernel's admin-guide/mm/ksm).
  stats["shared_bytes"] = stats.value("pages_shared", std::uint64_t{0}) * page;
  stats["saved_bytes"] = stats.value("pages_sharing", std::uint64_t{0}) * page;
  r.facts["ksm"] = stats;
  return r;
}

Status SetKsm(virConnectPtr conn, const std::string& uri, const Json& settings) {
  const std::string unreachable = RunSwitchUnreachable(uri);
  if (settings.contains("enabled") && !unreachable.empty()) {
    return Status::Unsupported("ksm.enabled cannot be set: " + unreachable)
        .WithErrorCode(ErrorCode::kUnsupported);
  }
  Json params = settings;
  params.erase("enabled");
  if (params.contains("merge_across_nodes")) {
    NodeMemoryParameters now;
    if (Status s = now.Read(conn); !s.ok()) return s;
    if (now.Get(VIR_NODE_MEMORY_SHARED_PAGES_SHARED).value_or(0) > 0) {
      // The kernel refuses (EBUSY) while pages are merged: unmerge them all first.
      if (!unreachable.empty()) {
        return Status::FailedPrecondition(
                   "ksm.merge_across_nodes: the kernel takes it only while no page is merged, "
                   "and unmerging needs KSM's run switch: " +
                   unreachable)
            .WithErrorCode(ErrorCode::kUnsupported);
      }
      const std::optional<unsigned long long> run = ReadSysfs("run");
      if (!run) {
        return Status::Unavailable("cannot read " + SysfsPath("run") +
                                   ": the run switch could not be restored after unmerging")
            .WithErrorCode(ErrorCode::kOperationFailed);
      }
      // The switch goes back to what it was whatever happens: the kernel stops KSM when an
      // unmerge fails, which must not outlive this step.
      Status unmerged = WriteSysfs("run", 2);  // returns once unmerged
      Status set = Status::Ok();
      if (unmerged.ok()) {
        Json merge = {{"merge_across_nodes", params["merge_across_nodes"]}};
        set = SetParameters(conn, merge);
      }
      Status back = WriteSysfs("run", *run == 2 ? 0 : *run);
      if (!unmerged.ok()) return unmerged;
      if (!set.ok()) return set;
      if (!back.ok()) return back;
      params.erase("merge_across_nodes");
    }
  }
  if (Status s = SetParameters(conn, params); !s.ok()) return s;
  if (settings.contains("enabled"))
    return WriteSysfs("run", settings["enabled"].get<bool>() ? 1 : 0);
  return Status::Ok();
}

}  // namespace vc::libvirt
