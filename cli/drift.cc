#include "cli/drift.h"

#include <ctime>

#include "cli/driver.h"
#include "engine/document_parser.h"
#include "engine/utc_time.h"

namespace vc::cli {

Json DriftReportToJson(const DriftReport& report) {
  Json documents = Json::array();
  for (const DocumentDrift& d : report.documents) {
    Json hosts = Json::object();
    for (const auto& [host, n] : d.differ) hosts[host] = {{"differ", n}};
    documents.push_back({{"name", d.name},
                         {"error", d.error.empty() ? Json(nullptr) : Json(d.error)},
                         {"hosts", hosts}});
  }
  return {{"interval", report.interval_seconds},
          {"last_run", report.last_run.empty() ? Json(nullptr) : Json(report.last_run)},
          {"documents", documents}};
}

DocumentDrift PlanDrift(const DocumentFile& file, const std::string& connection) {
  DocumentDrift drift;
  drift.name = file.name;
  try {
    Document doc;
    Diagnostics diags = LoadDocuments({file.path}, &doc);
    for (const Diagnostic& d : diags) {
      if (d.severity == Diagnostic::Severity::kError) {
        drift.error = d.summary;
        return drift;
      }
    }
    const std::string explicit_uri = doc.fleet() || !doc.connection.empty() ? "" : connection;
    Driver driver;
    StatusOr<Driver::Run> run = driver.PlanDocument(doc, explicit_uri, PlanOptions{});
    if (!run.ok()) {
      drift.error = run.status().message();
      return drift;
    }
    const Plan& plan = run->plan;
    if (doc.fleet()) {
      for (const auto& [name, uri] : plan.hosts) drift.differ[name] = 0;
    } else {
      drift.differ[plan.connection] = 0;
    }
    for (const Change& change : plan.changes) {
      std::string host = change.address.host;
      if (host.empty()) host = doc.fleet() ? "ceph" : plan.connection;
      ++drift.differ[host];
    }
    for (const Diagnostic& d : plan.diagnostics) {
      if (d.severity == Diagnostic::Severity::kError && drift.error.empty())
        drift.error = d.summary;
    }
  } catch (const std::exception& e) {  // the thread's guard: a bug is this document's error
    drift.error = std::string("internal error: ") + e.what();
  }
  return drift;
}

DriftMonitor::DriftMonitor(std::vector<std::string> directories, std::string connection,
                           std::chrono::seconds interval)
    : directories_(std::move(directories)),
      connection_(std::move(connection)),
      interval_(interval) {
  report_.interval_seconds = static_cast<int>(interval_.count());
  if (interval_.count() > 0 && !directories_.empty()) thread_ = std::thread([this] { Loop(); });
}

DriftMonitor::~DriftMonitor() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

DriftReport DriftMonitor::Report() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return report_;
}

void DriftMonitor::Loop() {
  for (;;) {
    DriftReport pass;
    pass.interval_seconds = static_cast<int>(interval_.count());
    try {  // the thread's guard: a failing pass is reported as empty, the next one tries again
      for (const DocumentFile& file : ListDocuments(directories_)) {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          if (stop_) return;
        }
        pass.documents.push_back(PlanDrift(file, connection_));
      }
    } catch (const std::exception&) {
      pass.documents.clear();
    }
    const std::time_t now = std::time(nullptr);
    pass.last_run = Rfc3339Utc(now);
    pass.last_run_unix = static_cast<double>(now);
    std::unique_lock<std::mutex> lock(mutex_);
    report_ = std::move(pass);
    if (wake_.wait_for(lock, interval_, [this] { return stop_; })) return;
  }
}

}  // namespace vc::cli
