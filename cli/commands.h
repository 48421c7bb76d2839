// The virtconverge subcommands. Each takes its own arguments (after the subcommand name) and
// returns the process exit code: 0 success with nothing to change, 2 changes present (plan) or
// made (apply) with --detailed-exitcode, 1 any error. Only this layer prints.
#pragma once

#include <string>
#include <vector>

namespace vc::cli {

using Args = std::vector<std::string>;

int Validate(const Args& args);
int PlanCommand(const Args& args);
int ApplyCommand(const Args& args);
int Observe(const Args& args);
int Schema(const Args& args);
int Serve(const Args& args);
int Server(const Args& args);
int Show(const Args& args);
int BackupCommand(const Args& args);   // cli/backup.cc
int RestoreCommand(const Args& args);  // cli/backup.cc
int RevertCommand(const Args& args);   // cli/revert.cc

}  // namespace vc::cli
