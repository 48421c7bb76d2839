// Running an external program (qemu-img) with a deadline: argv only, never a shell string.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "engine/status.h"

namespace vc::libvirt {

struct ProcessResult {
  int exit_code = 0;   // the program's exit status
  std::string output;  // its standard output and standard error, interleaved (bounded)
};

/// Runs argv[0] (looked up on PATH) with `argv`, standard input from /dev/null, and waits for it
/// at most `deadline`; then it is killed (SIGKILL) and reaped, and the result is kTimeout.
/// Ok with the exit code and output when the program ran to its end, whatever its exit code;
/// kOperationFailed when it could not be started or was killed by a signal.
/// REQUIRES: !argv.empty().
StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                   std::chrono::milliseconds deadline);

}  // namespace vc::libvirt
