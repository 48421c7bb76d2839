// One `virtconverge serve` request (docs/serve.md), decoded from the JSON object of its line into
// a typed Request with every field checked. Apart from the session (cli/serve.cc), so that the
// decoder can be fuzzed without a libvirt connection (fuzz/serve_request_fuzzer.cc).
#pragma once

#include <string>

#include "cli/host_lock.h"
#include "engine/plan.h"
#include "engine/status.h"

namespace vc::cli {

/// A backup request's fields (command "backup"): the running domain, the backup directory (an
/// absolute path: serve runs with its caller's rights, like the CLI), and whether to copy only
/// the blocks changed since its last backup.
struct BackupRequest {
  std::string domain;
  std::string dir;
  bool incremental = false;
  int timeout_seconds = 3600;
};

struct Request {
  Json id;  // echoed back as given (null when absent)
  std::string command;
  Json document;  // an object, for validate/plan/apply
  std::string connection;
  Json ceph;  // observe only: null or {"conf", "user"?}
  PlanOptions plan_options;
  int parallelism = 4;
  int lock_wait_seconds = static_cast<int>(kDefaultLockWait.count());  // apply: for the host lock
  bool text = false;     // also return the plan rendered for people
  BackupRequest backup;  // command "backup" only
};

/// Decodes a request object; every field's type and range is checked. InvalidArgument
/// "request field F: what is wrong" otherwise (error code invalid_value, unknown_field for a
/// field or option it does not know).
StatusOr<Request> DecodeRequest(const Json& json);

}  // namespace vc::cli
