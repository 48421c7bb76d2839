// virtconverge: declare what a libvirt host should hold, review the plan, apply it.
#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "engine/version.h"

namespace {

constexpr const char* kUsage = R"(usage: virtconverge <command> [options] [FILE...]

Converge a KVM/QEMU host to declared state: read what libvirt holds, show the differences as a
plan, apply them (live where QEMU allows it).

Commands:
  validate FILE...   check documents; touches nothing
  plan FILE...       show what apply would change
  apply FILE...      change the host to match the documents
  apply --plan P     apply exactly a saved plan, if the host has not changed since
  show PLAN          print a saved plan as text, after checking it; touches no host
  observe            print what the host holds, as a document
  schema NAME        print the JSON Schema: desired-state or plan
  serve              JSON requests on stdin, responses on stdout (for Puppet, Salt)
  server             the HTTP API and the plan-review web page (docs/api.md)
  backup DOMAIN      back up a running guest's disks (--to DIR, --incremental)
  restore            restore a disk of a backup into a new volume (docs/backup.md)
  revert DOMAIN SNAP put a domain's disks back to one of its snapshots (docs/snapshots.md)

FILE may be '-' for standard input. Run 'virtconverge <command> --help' for the options of one
command. Exit codes: 0 success and nothing to change; 2 changes present or made (with
--detailed-exitcode); 3 another run holds the host's lock (apply; nothing changed); 1 any other
error.

Connection: --connection URI, else the documents' 'connection:', else $LIBVIRT_DEFAULT_URI,
else qemu:///system.
)";

}  // namespace

int main(int argc, char** argv) {
  // libvirt asks its clients to: a daemon that goes away mid-call must be an error, not a kill.
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 1 : 0;
  }
  if (args[0] == "--version" || args[0] == "version") {
    std::cout << "virtconverge " << vc::kVersion << "\n";
    return 0;
  }
  std::string command = args[0];
  args.erase(args.begin());
  if (command == "validate") return vc::cli::Validate(args);
  if (command == "plan") return vc::cli::PlanCommand(args);
  if (command == "apply") return vc::cli::ApplyCommand(args);
  if (command == "observe") return vc::cli::Observe(args);
  if (command == "schema") return vc::cli::Schema(args);
  if (command == "serve") return vc::cli::Serve(args);
  if (command == "server") return vc::cli::Server(args);
  if (command == "show") return vc::cli::Show(args);
  if (command == "backup") return vc::cli::BackupCommand(args);
  if (command == "restore") return vc::cli::RestoreCommand(args);
  if (command == "revert") return vc::cli::RevertCommand(args);
  std::cerr << "virtconverge: unknown command '" << command << "'\n\n" << kUsage;
  return 1;
}
