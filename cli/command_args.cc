#include "cli/command_args.h"

#include <iostream>

#include "engine/names.h"

namespace po = boost::program_options;

namespace vc::cli {

void PrintCommandError(const std::string& message) {
  std::cerr << "error: " << EscapeInvalidUtf8(message) << "\n";
}

int FailCommand(const Status& status) {
  PrintCommandError(status.message());
  return kCommandError;
}

bool ParseCommandArgs(const Args& args, const std::string& usage, po::options_description& options,
                      const std::vector<const char*>& positionals, po::variables_map* vm,
                      int* exit_code, const char* rest) {
  options.add_options()("help,h", "show this help");
  po::options_description hidden;
  po::positional_options_description positional;
  for (const char* name : positionals) {
    hidden.add_options()(name, po::value<std::string>(), name);
    positional.add(name, 1);
  }
  if (rest != nullptr) {
    hidden.add_options()(rest, po::value<std::vector<std::string>>(), rest);
    positional.add(rest, -1);
  }
  po::options_description all;
  all.add(options).add(hidden);
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), *vm);
    po::notify(*vm);
  } catch (const po::error& e) {
    PrintCommandError(std::string(e.what()) + " (see --help)");
    *exit_code = kCommandError;
    return false;
  }
  if (vm->count("help")) {
    std::cout << usage << "\n" << options;
    *exit_code = kCommandOk;
    return false;
  }
  return true;
}

std::string OptionText(const po::variables_map& vm, const char* name) {
  return vm.count(name) ? vm[name].as<std::string>() : std::string();
}

}  // namespace vc::cli
