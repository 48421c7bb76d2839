// A backup requested through `serve` or the HTTP server (docs/backup.md): the same operation as
// `virtconverge backup`, on a connection of its own, answered as JSON.
#pragma once

#include <string>

#include "cli/serve_request.h"
#include "engine/resource.h"
#include "engine/status.h"

namespace vc::cli {

/// Backs up `request.domain` on `uri` into `request.dir`; the backup's record
/// (libvirt::BackupRecordToJson) or the error (docs/backup.md lists them).
StatusOr<Json> RunBackup(const std::string& uri, const BackupRequest& request);

}  // namespace vc::cli
