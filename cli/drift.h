// Drift at a glance (docs/api.md): `virtconverge server` re-plans each configured document on an
// interval, on a thread of its own, and keeps how many resources per host differ from it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cli/document_dirs.h"
#include "engine/resource.h"

namespace vc::cli {

struct DocumentDrift {
  std::string name;
  std::string error;                  // why it could not be planned, or ""
  std::map<std::string, int> differ;  // host (a fleet's name, else the URI) → changes planned
};

struct DriftReport {
  int interval_seconds = 0;
  std::string last_run;  // RFC 3339 UTC, "" before the first pass
  double last_run_unix = 0;
  std::vector<DocumentDrift> documents;
};

/// {"interval", "last_run", "documents": [{"name", "error", "hosts": {host: {"differ"}}}]}.
Json DriftReportToJson(const DriftReport& report);

/// How many resources of `doc_path`'s document differ on its hosts, planned now (no lock taken,
/// nothing changed). `connection` is the server's --connection (for documents without one).
DocumentDrift PlanDrift(const DocumentFile& file, const std::string& connection);

class DriftMonitor {
 public:
  /// Starts the thread: a first pass at once, then one every `interval` (0: never).
  DriftMonitor(std::vector<std::string> directories, std::string connection,
               std::chrono::seconds interval);
  ~DriftMonitor();  // stops and joins the thread
  DriftMonitor(const DriftMonitor&) = delete;
  DriftMonitor& operator=(const DriftMonitor&) = delete;

  DriftReport Report() const;

 private:
  void Loop();

  const std::vector<std::string> directories_;
  const std::string connection_;
  const std::chrono::seconds interval_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  DriftReport report_;
  std::thread thread_;
};

}  // namespace vc::cli
