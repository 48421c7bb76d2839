// What the smaller commands (backup, restore, revert) share: their options parsed with a usage
// text and --help, errors printed one way.
#pragma once

#include <boost/program_options.hpp>
#include <string>

#include "cli/commands.h"
#include "engine/status.h"

namespace vc::cli {

inline constexpr int kCommandOk = 0;
inline constexpr int kCommandError = 1;

/// "error: <message>" on standard error, invalid UTF-8 escaped.
void PrintCommandError(const std::string& message);

/// Prints `status` and returns kCommandError.
int FailCommand(const Status& status);

/// Parses `args` against `options` (plus --help) and the positional arguments named in
/// `positionals`, in order, one value each, then, when `rest` names one, every remaining argument
/// as its list. False, having printed the error or `usage` and the options, when the process
/// should exit with *exit_code.
bool ParseCommandArgs(const Args& args, const std::string& usage,
                      boost::program_options::options_description& options,
                      const std::vector<const char*>& positionals,
                      boost::program_options::variables_map* vm, int* exit_code,
                      const char* rest = nullptr);

/// The value of string option `name`, or "".
std::string OptionText(const boost::program_options::variables_map& vm, const char* name);

}  // namespace vc::cli
