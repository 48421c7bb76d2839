#include "providers/libvirt/migration.h"

#include <libvirt/virterror.h>

#include <algorithm>
#include <condition_variable>
#include <iterator>
#include <mutex>
#include <pugixml.hpp>
#include <set>
#include <thread>

#include "providers/libvirt/libvirt_error.h"
#include "providers/libvirt/libvirt_handles.h"
#include "providers/libvirt/xml_util.h"

namespace vc::libvirt {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Owns a typed-parameter list, the one libvirt allocation with a count beside the pointer.
class TypedParams {
 public:
  TypedParams() = default;
  TypedParams(const TypedParams&) = delete;
  TypedParams& operator=(const TypedParams&) = delete;
  ~TypedParams() { virTypedParamsFree(params_, count_); }

  virTypedParameterPtr get() const { return params_; }
  int size() const { return count_; }
  // Out-parameters for libvirt calls that allocate the list (virDomainGetJobStats).
  virTypedParameterPtr* out_params() { return &params_; }
  int* out_size() { return &count_; }

  bool AddString(const char* name, const std::string& value) {
    return virTypedParamsAddString(&params_, &count_, &capacity_, name, value.c_str()) == 0;
  }
  bool AddULLong(const char* name, unsigned long long value) {
    return virTypedParamsAddULLong(&params_, &count_, &capacity_, name, value) == 0;
  }
  std::optional<std::uint64_t> ULLong(const char* name) const {
    unsigned long long value = 0;
    if (virTypedParamsGetULLong(params_, count_, name, &value) != 1) return std::nullopt;
    return value;
  }

 private:
  virTypedParameterPtr params_ = nullptr;
  int count_ = 0;
  int capacity_ = 0;
};

// The calling thread's libvirt error, with the codes a migration step can end in: not found,
// a daemon gone silent (keepalive) or a call past its time keep theirs, the rest is the daemon
// refusing or failing the operation.
Status MigrationError(const std::string& context) {
  Status s = LastError(context);
  switch (s.error_code()) {
    case ErrorCode::kNotFound:
    case ErrorCode::kConnectionLost:
    case ErrorCode::kTimeout:
      return s;
    default:
      return s.WithErrorCode(ErrorCode::kOperationFailed);
  }
}

// `s` with `suffix` after its message; code and error code stay.
Status WithSuffix(const Status& s, const std::string& suffix) {
  const std::string m = s.message() + suffix;
  Status out = Status::Internal(m);
  switch (s.code()) {
    case Status::Code::kOk:
      return s;
    case Status::Code::kInvalidArgument:
      out = Status::InvalidArgument(m);
      break;
    case Status::Code::kNotFound:
      out = Status::NotFound(m);
      break;
    case Status::Code::kFailedPrecondition:
      out = Status::FailedPrecondition(m);
      break;
    case Status::Code::kUnavailable:
      out = Status::Unavailable(m);
      break;
    case Status::Code::kUnsupported:
      out = Status::Unsupported(m);
      break;
    case Status::Code::kInternal:
      break;
  }
  return out.WithErrorCode(s.error_code());
}

// The host UUID libvirt reports for the daemon behind `conn` (its capabilities).
StatusOr<std::string> HostUuid(virConnectPtr conn) {
  CString caps(virConnectGetCapabilities(conn));
  if (!caps) return MigrationError("reading the host capabilities");
  pugi::xml_document doc;
  if (!doc.load_string(caps.get()))
    return Status::Internal("the host capabilities are not XML")
        .WithErrorCode(ErrorCode::kInternal);
  return std::string(doc.document_element().child("host").child_value("uuid"));
}

// Where a domain is on one host, looked up by UUID (a name may be reused, a UUID is the domain).
struct Placement {
  enum class State { kAbsent, kRunning, kPaused, kInactive, kUnknown };
  State state = State::kUnknown;
  bool persistent = false;
  std::string unknown_reason;  // for kUnknown: why the host could not say

  std::string Describe() const {
    switch (state) {
      case State::kAbsent:
        return "absent";
      case State::kRunning:
        return persistent ? "running, persistent" : "running, transient";
      case State::kPaused:
        return persistent ? "paused, persistent" : "paused, transient";
      case State::kInactive:
        return "defined, not running";
      case State::kUnknown:
        return "unknown (" + unknown_reason + ")";
    }
    return "unknown";
  }
};

Placement Locate(virConnectPtr conn, const unsigned char* uuid) {
  Placement p;
  Domain domain(virDomainLookupByUUID(conn, uuid));
  if (!domain) {
    if (LastErrorIsNotFound()) {
      p.state = Placement::State::kAbsent;
    } else {
      p.unknown_reason = LastError("lookup").message();
    }
    return p;
  }
  int state = 0;
  int reason = 0;
  if (virDomainGetState(domain.get(), &state, &reason, 0) < 0) {
    p.unknown_reason = LastError("state").message();
    return p;
  }
  p.persistent = virDomainIsPersistent(domain.get()) == 1;
  switch (state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
      p.state = Placement::State::kRunning;
      break;
    case VIR_DOMAIN_PAUSED:
      p.state = Placement::State::kPaused;
      break;
    default:
      p.state = Placement::State::kInactive;
      break;
  }
  return p;
}

MigrationProgress ReadProgress(const TypedParams& stats, Clock::time_point start) {
  MigrationProgress p;
  p.data_total = stats.ULLong(VIR_DOMAIN_JOB_DATA_TOTAL);
  p.data_processed = stats.ULLong(VIR_DOMAIN_JOB_DATA_PROCESSED);
  p.data_remaining = stats.ULLong(VIR_DOMAIN_JOB_DATA_REMAINING);
  p.memory_total = stats.ULLong(VIR_DOMAIN_JOB_MEMORY_TOTAL);
  p.memory_processed = stats.ULLong(VIR_DOMAIN_JOB_MEMORY_PROCESSED);
  p.memory_remaining = stats.ULLong(VIR_DOMAIN_JOB_MEMORY_REMAINING);
  p.disk_total = stats.ULLong(VIR_DOMAIN_JOB_DISK_TOTAL);
  p.disk_remaining = stats.ULLong(VIR_DOMAIN_JOB_DISK_REMAINING);
  p.elapsed_seconds = SecondsSince(start);
  return p;
}

// Watches the source's migration job from a second thread while the caller's thread is inside
// virDomainMigrate3: samples it for the progress callback, and aborts it at the deadline. The
// source connection is shared (libvirt connections are thread-safe); libvirt errors of this
// thread stay on this thread.
class JobMonitor {
 public:
  JobMonitor(virDomainPtr domain, const MigrationOptions& options, Clock::time_point start)
      : domain_(domain), options_(options), start_(start), thread_([this] { Run(); }) {}
  JobMonitor(const JobMonitor&) = delete;
  JobMonitor& operator=(const JobMonitor&) = delete;
  ~JobMonitor() { Stop(); }

  /// Ends the monitoring and waits for the thread; the accessors below are valid afterwards.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }
  bool aborted() const { return aborted_; }
  const std::string& abort_error() const { return abort_error_; }
  int samples() const { return samples_; }

 private:
  static constexpr std::chrono::seconds kAbortRetry{1};

  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    Clock::time_point last_abort{};
    while (!wake_.wait_for(lock, options_.poll_interval, [this] { return stop_; })) {
      lock.unlock();
      const Clock::time_point now = Clock::now();
      // Past the deadline: abort (an abort that comes before QEMU's migration starts is honoured
      // when it starts); if libvirt refused it, try again every second until the call returns.
      const bool retry = !aborted_ || (!abort_error_.empty() && now - last_abort >= kAbortRetry);
      if (now - start_ >= options_.deadline && retry) {
        last_abort = now;
        aborted_ = true;
        abort_error_ =
            virDomainAbortJob(domain_) < 0 ? LastError("aborting the job").message() : "";
      }
      if (options_.progress && callback_ok_) Sample();
      lock.lock();
    }
  }

  void Sample() {
    TypedParams stats;
    int type = VIR_DOMAIN_JOB_NONE;
    if (virDomainGetJobStats(domain_, &type, stats.out_params(), stats.out_size(), 0) < 0) return;
    if (type == VIR_DOMAIN_JOB_NONE) return;
    try {
      options_.progress(ReadProgress(stats, start_));
      ++samples_;
    } catch (...) {
      callback_ok_ = false;  // the caller's exception must not end the process on this thread
    }
  }

  virDomainPtr domain_;
  const MigrationOptions& options_;
  const Clock::time_point start_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  // Written by the monitor thread only, read by the caller after Stop() joined it.
  bool aborted_ = false;
  bool callback_ok_ = true;
  std::string abort_error_;
  int samples_ = 0;
  std::thread thread_;  // last: started once every member above exists
};

void ReadCompletedStats(virDomainPtr moved, MigrationStats* stats) {
  TypedParams completed;
  int type = VIR_DOMAIN_JOB_NONE;
  if (virDomainGetJobStats(moved, &type, completed.out_params(), completed.out_size(),
                           VIR_DOMAIN_JOB_STATS_COMPLETED) < 0) {
    return;  // statistics are a bonus: the move itself is verified elsewhere
  }
  stats->downtime_ms = completed.ULLong(VIR_DOMAIN_JOB_DOWNTIME);
  stats->qemu_time_ms = completed.ULLong(VIR_DOMAIN_JOB_TIME_ELAPSED);
  stats->data_processed = completed.ULLong(VIR_DOMAIN_JOB_DATA_PROCESSED);
}

// After a failed call: leave the domain running on exactly one host where that can be known,
// and say where it is. A domain left paused on the source is resumed only when the destination
// answers that it does not run it (resuming blindly could run the guest twice on shared disks).
Status SettleAfterFailure(Status error, virConnectPtr source, virConnectPtr destination,
                          const unsigned char* uuid) {
  Placement here = Locate(source, uuid);
  const Placement there = Locate(destination, uuid);
  const bool there_runs =
      there.state == Placement::State::kRunning || there.state == Placement::State::kPaused;
  std::string note;
  if (here.state == Placement::State::kPaused && !there_runs &&
      there.state != Placement::State::kUnknown) {
    Domain domain(virDomainLookupByUUID(source, uuid));
    if (domain && virDomainResume(domain.get()) == 0) {
      here = Locate(source, uuid);
      note = " (libvirt left it paused there; resumed)";
    }
  }
  if (here.state == Placement::State::kRunning && there_runs) {
    return Status::Internal(error.message() +
                            "; the domain now runs on BOTH hosts (source: " + here.Describe() +
                            ", destination: " + there.Describe() + "): stop one by hand")
        .WithErrorCode(ErrorCode::kInternal);
  }
  if (here.state == Placement::State::kRunning) {
    std::string where = "; the domain still runs on the source" + note;
    if (there.state == Placement::State::kUnknown) where += ", the destination could not be asked";
    return WithSuffix(error, where);
  }
  return WithSuffix(error, "; the domain is not running on the source (" + here.Describe() +
                               "), on the destination it is " + there.Describe());
}

}  // namespace

Status MigrateLive(virConnectPtr source, virConnectPtr destination, const std::string& domain,
                   const MigrationOptions& options, MigrationStats* stats) {
  const Clock::time_point start = Clock::now();
  const std::string destination_uri = AdoptString(virConnectGetURI(destination));
  const std::string what = "migrating domain " + domain + " live to " + destination_uri;

  Domain dom(virDomainLookupByName(source, domain.c_str()));
  if (!dom) return MigrationError("looking up domain " + domain + " on the source");
  unsigned char uuid[VIR_UUID_BUFLEN];
  if (virDomainGetUUID(dom.get(), uuid) < 0) return MigrationError(what);
  int state = 0;
  int reason = 0;
  if (virDomainGetState(dom.get(), &state, &reason, 0) < 0) return MigrationError(what);
  if (state != VIR_DOMAIN_RUNNING && state != VIR_DOMAIN_BLOCKED) {
    return Status::FailedPrecondition(what + ": it is not running (a live migration moves a " +
                                      "running domain; a stopped one needs none)")
        .WithErrorCode(ErrorCode::kOperationFailed);
  }

  // Two connections to one daemon would make the checks below see the domain "on both hosts".
  const std::string untouched = "; nothing was started: the domain still runs on the source";
  StatusOr<std::string> source_host = HostUuid(source);
  if (!source_host.ok()) return WithSuffix(source_host.status().WithContext(what), untouched);
  StatusOr<std::string> destination_host = HostUuid(destination);
  if (!destination_host.ok())
    return WithSuffix(destination_host.status().WithContext(what), untouched);
  if (*source_host == *destination_host) {
    return Status::InvalidArgument(what + ": source and destination are the same host (host UUID " +
                                   *source_host + ")");
  }

  TypedParams params;
  bool params_ok = true;
  if (!options.migration_uri.empty())
    params_ok = params.AddString(VIR_MIGRATE_PARAM_URI, options.migration_uri);
  if (options.bandwidth_mib_per_second)
    params_ok = params_ok &&
                params.AddULLong(VIR_MIGRATE_PARAM_BANDWIDTH, *options.bandwidth_mib_per_second);
  if (!params_ok) return MigrationError(what + ": building the parameters");
  unsigned int flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
  if (options.copy_storage) flags |= VIR_MIGRATE_NON_SHARED_DISK;

  Domain moved;
  Status error = Status::Ok();
  JobMonitor monitor(dom.get(), options, start);
  moved.reset(virDomainMigrate3(dom.get(), destination, params.get(), params.size(), flags));
  std::string libvirt_said;
  if (!moved) {  // on this thread, right after the call
    virErrorPtr e = virGetLastError();
    libvirt_said = e != nullptr && e->message != nullptr ? e->message : "";
    error = MigrationError(what);
  }
  monitor.Stop();
  if (monitor.aborted() && !moved) {
    error = Status::Unavailable(what + ": did not finish within " +
                                std::to_string(options.deadline.count()) +
                                " s, so the job was aborted (libvirt: " + libvirt_said + ")" +
                                (monitor.abort_error().empty() ? "" : "; " + monitor.abort_error()))
                .WithErrorCode(ErrorCode::kTimeout);
  }
  if (!moved) return SettleAfterFailure(error, source, destination, uuid);

  // libvirt says it moved: check both hosts rather than trust one return value.
  const Placement there = Locate(destination, uuid);
  const Placement here = Locate(source, uuid);
  if (there.state != Placement::State::kRunning || !there.persistent ||
      here.state != Placement::State::kAbsent) {
    return Status::Internal(what + ": libvirt reported success, but on the destination it is " +
                            there.Describe() + " and on the source " + here.Describe())
        .WithErrorCode(ErrorCode::kOperationFailed);
  }
  if (stats != nullptr) {
    *stats = MigrationStats{};
    ReadCompletedStats(moved.get(), stats);
    stats->progress_samples = monitor.samples();
    stats->wall_seconds = SecondsSince(start);
  }
  return Status::Ok();
}

namespace {

// What a CPU comparison needs from the caller's XML: the <cpu> element and, from a domain,
// the hypervisor it names.
struct CpuRequest {
  pugi::xml_node cpu;  // empty when a domain has no <cpu>
  std::string virttype, arch, machine, emulator;
};

const char* OrNull(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

StatusOr<CpuRequest> ParseCpuRequest(const pugi::xml_document& doc) {
  CpuRequest r;
  pugi::xml_node root = doc.document_element();
  if (std::string_view(root.name()) == "cpu") {
    r.cpu = root;
    r.arch = root.child_value("arch");
    return r;
  }
  if (std::string_view(root.name()) != "domain")
    return Status::InvalidArgument("expected a <domain> or a <cpu> element, got <" +
                                   std::string(root.name()) + ">");
  r.cpu = root.child("cpu");
  r.virttype = root.attribute("type").value();
  pugi::xml_node type = root.child("os").child("type");
  r.arch = type.attribute("arch").value();
  r.machine = type.attribute("machine").value();
  r.emulator = root.child("devices").child_value("emulator");
  return r;
}

std::string NodeXml(pugi::xml_node node) {
  pugi::xml_document doc;
  doc.append_copy(node);
  return ToString(doc);
}

// Features a CPU definition requires (policy require or force, or none given).
std::set<std::string> RequiredFeatures(pugi::xml_node cpu) {
  std::set<std::string> out;
  for (pugi::xml_node f : cpu.children("feature")) {
    const std::string policy = f.attribute("policy").value();
    if (policy.empty() || policy == "require" || policy == "force")
      out.insert(f.attribute("name").value());
  }
  return out;
}

// The host-model CPU of a hypervisor (domain capabilities) as a <cpu> element, the form
// virConnectBaselineHypervisorCPU and virConnectCompareHypervisorCPU take.
StatusOr<std::string> HostModelCpu(virConnectPtr conn, const CpuRequest& r) {
  CString caps(virConnectGetDomainCapabilities(conn, OrNull(r.emulator), OrNull(r.arch),
                                               OrNull(r.machine), OrNull(r.virttype), 0));
  if (!caps) return LastError("reading the domain capabilities");
  pugi::xml_document doc;
  if (!doc.load_string(caps.get()))
    return Status::Internal("the domain capabilities are not XML")
        .WithErrorCode(ErrorCode::kInternal);
  pugi::xml_node mode =
      doc.document_element().child("cpu").find_child_by_attribute("mode", "name", "host-model");
  if (!mode || std::string_view(mode.attribute("supported").value()) != "yes" ||
      !mode.child("model")) {
    return Status::Unsupported("the hypervisor offers no host-model CPU");
  }
  pugi::xml_document out;
  pugi::xml_node cpu = out.append_child("cpu");
  for (pugi::xml_node child : mode.children()) {
    if (std::string_view(child.name()) == "model" || std::string_view(child.name()) == "vendor" ||
        std::string_view(child.name()) == "feature")
      cpu.append_copy(child);
  }
  return ToString(out);
}

// The features of `cpu_xml` with its model expanded into the features the model stands for.
// On `conn` for its CPU map; `hypervisor` also drops what that hypervisor cannot provide.
StatusOr<std::set<std::string>> ExpandedFeatures(virConnectPtr conn, const std::string& cpu_xml,
                                                 const CpuRequest* hypervisor) {
  const char* cpus[] = {cpu_xml.c_str()};
  CString expanded(
      hypervisor != nullptr
          ? virConnectBaselineHypervisorCPU(conn, OrNull(hypervisor->emulator),
                                            OrNull(hypervisor->arch), OrNull(hypervisor->machine),
                                            OrNull(hypervisor->virttype), cpus, 1,
                                            VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)
          : virConnectBaselineCPU(conn, cpus, 1, VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES));
  if (!expanded) return LastError("expanding the CPU model's features");
  pugi::xml_document doc;
  if (!doc.load_string(expanded.get()))
    return Status::Internal("libvirt's expanded CPU is not XML")
        .WithErrorCode(ErrorCode::kInternal);
  return RequiredFeatures(doc.document_element());
}

// What the requested CPU needs that the destination's host-model CPU does not have. Empty
// when it cannot be worked out (no host-model, an unknown model): the reason is in libvirt's
// message then.
std::vector<std::string> MissingFeatures(virConnectPtr destination, const CpuRequest& r) {
  StatusOr<std::string> host_model = HostModelCpu(destination, r);
  if (!host_model.ok()) return {};
  StatusOr<std::set<std::string>> offered = ExpandedFeatures(destination, *host_model, &r);
  if (!offered.ok()) return {};

  std::set<std::string> wanted = RequiredFeatures(r.cpu);
  const std::string model = r.cpu.child_value("model");
  if (!model.empty()) {
    // The model alone, in the host-CPU form virConnectBaselineCPU reads (it needs the arch).
    pugi::xml_document doc;
    pugi::xml_node cpu = doc.append_child("cpu");
    std::string arch = r.arch.empty() ? "x86_64" : r.arch;
    cpu.append_child("arch").text() = arch.c_str();
    cpu.append_child("model").text() = model.c_str();
    if (const char* vendor = r.cpu.child_value("vendor"); *vendor != '\0')
      cpu.append_child("vendor").text() = vendor;
    StatusOr<std::set<std::string>> of_model =
        ExpandedFeatures(destination, ToString(doc), nullptr);
    if (!of_model.ok()) return {};
    wanted.insert(of_model->begin(), of_model->end());
  }
  for (pugi::xml_node f : r.cpu.children("feature")) {
    const std::string policy = f.attribute("policy").value();
    if (policy == "disable" || policy == "forbid") wanted.erase(f.attribute("name").value());
  }
  std::vector<std::string> missing;
  std::set_difference(wanted.begin(), wanted.end(), offered->begin(), offered->end(),
                      std::back_inserter(missing));
  return missing;
}

}  // namespace

Status CheckCpuCompatible(virConnectPtr destination, const std::string& domain_xml_or_cpu_xml,
                          std::vector<std::string>* missing_features) {
  if (missing_features != nullptr) missing_features->clear();
  pugi::xml_document doc;
  if (!doc.load_string(domain_xml_or_cpu_xml.c_str()))
    return Status::InvalidArgument("the CPU to check is not XML");
  StatusOr<CpuRequest> request = ParseCpuRequest(doc);
  if (!request.ok()) return request.status();
  if (!request->cpu) return Status::Ok();  // the hypervisor's default CPU: nothing to compare

  const std::string cpu_xml = NodeXml(request->cpu);
  const int result = virConnectCompareHypervisorCPU(
      destination, OrNull(request->emulator), OrNull(request->arch), OrNull(request->machine),
      OrNull(request->virttype), cpu_xml.c_str(), VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE);
  if (result == VIR_CPU_COMPARE_IDENTICAL || result == VIR_CPU_COMPARE_SUPERSET)
    return Status::Ok();
  virErrorPtr e = virGetLastError();
  if (result != VIR_CPU_COMPARE_INCOMPATIBLE &&
      (e == nullptr || e->code != VIR_ERR_CPU_INCOMPATIBLE)) {
    return LastError("comparing the CPU with the host's");
  }
  // Incompatible: keep libvirt's reason for people, work out the features for programs.
  std::string reason = (e != nullptr && e->message != nullptr) ? e->message : "incompatible";
  std::vector<std::string> missing = MissingFeatures(destination, *request);
  if (missing_features != nullptr) *missing_features = missing;
  return Status::FailedPrecondition("the host cannot run this CPU: " + reason)
      .WithErrorCode(ErrorCode::kOperationFailed);
}

StatusOr<std::string> BaselineCpu(const std::vector<virConnectPtr>& hosts) {
  if (hosts.empty()) return Status::InvalidArgument("a CPU baseline needs at least one host");
  std::vector<std::string> models;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    StatusOr<std::string> model = HostModelCpu(hosts[i], CpuRequest{});
    if (!model.ok()) return model.status().WithContext("host " + std::to_string(i));
    models.push_back(*model);
  }
  std::vector<const char*> cpus;
  for (const std::string& m : models) cpus.push_back(m.c_str());
  // MIGRATABLE: leave out what cannot move with a guest (invtsc, for one).
  CString baseline(virConnectBaselineHypervisorCPU(
      hosts[0], nullptr, nullptr, nullptr, nullptr, cpus.data(),
      static_cast<unsigned int>(cpus.size()), VIR_CONNECT_BASELINE_CPU_MIGRATABLE));
  if (!baseline) {
    Status s =
        LastError("computing the baseline CPU of " + std::to_string(hosts.size()) + " host(s)");
    return s.error_code() == ErrorCode::kConnectionLost
               ? s
               : s.WithErrorCode(ErrorCode::kOperationFailed);
  }
  std::string cpu(baseline.get());
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    Status ok = CheckCpuCompatible(hosts[i], cpu);
    if (!ok.ok())
      return ok.WithContext("host " + std::to_string(i) + " cannot run the baseline CPU");
  }
  return cpu;
}

}  // namespace vc::libvirt
