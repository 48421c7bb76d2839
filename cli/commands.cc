#include "cli/commands.h"

#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/command_args.h"
#include "cli/driver.h"
#include "engine/applier.h"
#include "engine/document_parser.h"
#include "engine/export.h"
#include "engine/json_reader.h"
#include "engine/names.h"
#include "engine/plan.h"
#include "engine/plan_text.h"
#include "engine/saved_plan.h"
#include "engine/schemas.h"

namespace po = boost::program_options;

namespace vc::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitChanges = 2;
constexpr int kExitHostBusy = 3;  // another run holds the host's lock: nothing was changed

void PrintError(const std::string& message) {
  std::cerr << "error: " << EscapeInvalidUtf8(message) << "\n";
}

Json StatusToJson(const Status& status) {
  return {{"code", ErrorCodeName(status.error_code())},
          {"transient", status.transient()},
          {"message", EscapeInvalidUtf8(status.message())}};
}

// Reports a failure before any plan exists: the message on stderr and, with --format json, the
// coded error on stdout so callers need not read English.
int Fail(const Status& status, bool json) {
  PrintError(status.message());
  if (json)
    std::cout << Json{{"plan", nullptr}, {"apply", nullptr}, {"error", StatusToJson(status)}}.dump(
                     2, ' ', false, Json::error_handler_t::replace)
              << "\n";
  return status.error_code() == ErrorCode::kHostBusy ? kExitHostBusy : kExitError;
}

// Prints the diagnostics; true when one of them is an error.
bool Report(const Diagnostics& diagnostics) {
  for (const Diagnostic& d : diagnostics) {
    std::cerr << (d.severity == Diagnostic::Severity::kError ? "error: " : "warning: ")
              << EscapeInvalidUtf8(d.summary) << "\n";
    if (!d.detail.empty()) std::cerr << "    " << EscapeInvalidUtf8(d.detail) << "\n";
  }
  return HasErrors(diagnostics);
}

// Parses `args` against `options` (plus --help and positional FILEs when `files` is set).
// Returns false, having printed why, when the process should exit with *exit_code.
bool ParseArgs(const Args& args, const std::string& usage, po::options_description& options,
               bool files, po::variables_map* vm, int* exit_code) {
  return ParseCommandArgs(args, usage, options, {}, vm, exit_code, files ? "file" : nullptr);
}

std::vector<std::string> Files(const po::variables_map& vm) {
  return vm.count("file") ? vm["file"].as<std::vector<std::string>>() : std::vector<std::string>{};
}

std::string Text(const po::variables_map& vm, const char* name) {
  return vm.count(name) ? vm[name].as<std::string>() : std::string();
}

TextStyle StyleForStdout(bool verbose) {
  const char* no_color = std::getenv("NO_COLOR");
  return TextStyle{isatty(STDOUT_FILENO) == 1 && (no_color == nullptr || *no_color == '\0'),
                   verbose};
}

bool CheckFormat(const po::variables_map& vm, std::initializer_list<const char*> allowed) {
  std::string format = vm["format"].as<std::string>();
  for (const char* a : allowed) {
    if (format == a) return true;
  }
  PrintError("--format " + format + " is not one of the supported formats (see --help)");
  return false;
}

void AddConnectionOption(po::options_description& options) {
  options.add_options()("connection,c", po::value<std::string>(),
                        "libvirt URI (default: the documents' connection, $LIBVIRT_DEFAULT_URI, "
                        "qemu:///system)")(
      "ceph-conf", po::value<std::string>(),
      "Ceph conf naming the monitors and keyring (default: the documents' ceph: section)")(
      "ceph-user", po::value<std::string>(), "cephx user, without 'client.' (default: admin)");
}

// The Ceph cluster to use: --ceph-conf/--ceph-user over the documents' ceph: section.
Json CephSection(const po::variables_map& vm, const Json& from_documents) {
  Json ceph = from_documents;
  if (vm.count("ceph-conf")) {
    if (!ceph.is_object()) ceph = Json::object();
    ceph["conf"] = vm["ceph-conf"].as<std::string>();
  }
  if (vm.count("ceph-user") && ceph.is_object()) ceph["user"] = vm["ceph-user"].as<std::string>();
  return ceph;
}

void AddAllowOptions(po::options_description& options) {
  options.add_options()(
      "allow-destroy", po::bool_switch(),
      "permit destructive changes: deleting or shrinking volumes, replacing resources")(
      "allow-restart", po::bool_switch(),
      "restart running domains whose change needs it (graceful shutdown, then start); without it "
      "such "
      "changes wait in the persistent config for the next boot")(
      "prune", po::bool_switch(),
      "delete resources that carry virtconverge's mark but are no longer declared");
}

void AddPlanShapeOptions(po::options_description& options) {
  options.add_options()(
      "shutdown-timeout", po::value<int>()->default_value(60),
      "seconds a guest gets to shut down (ACPI) before it is forced off (0-86400); part "
      "of the plan's steps")("verbose,v", po::bool_switch(),
                             "show each step's arguments in the text plan")(
      "skip-unreachable", po::bool_switch(),
      "a fleet (hosts:): plan the hosts that answer and name those that do not, instead of "
      "failing (what is placed on a skipped host is not planned)")(
      "allow-overcommit", po::bool_switch(),
      "a fleet (hosts:): permit a plan that takes a host over its cpu_allocation_ratio or "
      "ram_allocation_ratio (shown as warnings instead of refused); recorded in the plan");
}

bool PlanOptionsFrom(const po::variables_map& vm, PlanOptions* options) {
  int timeout = vm["shutdown-timeout"].as<int>();
  if (timeout < 0 || timeout > 86400) {
    PrintError("--shutdown-timeout must be between 0 and 86400 seconds");
    return false;
  }
  *options = PlanOptions{vm["allow-destroy"].as<bool>(),
                         vm["allow-restart"].as<bool>(),
                         vm["prune"].as<bool>(),
                         timeout,
                         vm["skip-unreachable"].as<bool>(),
                         vm["allow-overcommit"].as<bool>()};
  return true;
}

// Loads the documents named on the command line, --ceph-conf/--ceph-user counting as their
// ceph: section. False (having printed why) when they do not load.
bool LoadFromCommandLine(const po::variables_map& vm, Document* doc, bool json) {
  std::vector<std::string> files = Files(vm);
  if (files.empty()) {
    Fail(Status::InvalidArgument("no documents given (use - for standard input)"), json);
    return false;
  }
  Diagnostics diagnostics = LoadDocuments(files, doc);
  if (HasErrors(diagnostics)) {
    Report(diagnostics);
    if (json) {
      std::cout << Json{{"plan", nullptr},
                        {"apply", nullptr},
                        {"diagnostics", DiagnosticsToJson(diagnostics)}}
                       .dump(2, ' ', false, Json::error_handler_t::replace)
                << "\n";
    }
    return false;
  }
  Report(diagnostics);  // warnings
  doc->ceph = CephSection(vm, doc->ceph);
  return true;
}

std::string RenderReport(const ApplyReport& report) {
  std::ostringstream out;
  int converged = 0;
  for (const ResourceOutcome& o : report.outcomes) {
    if (!o.status.ok()) {
      out << "  " << o.address.ToString() << ": FAILED (" << ErrorCodeName(o.status.error_code())
          << "): " << o.status.message() << "\n";
    } else if (!report.verification.ok()) {
      out << "  " << o.address.ToString() << ": done, not verified\n";
    } else if (!o.converged) {
      std::string remaining;
      for (const std::string& r : o.remaining) remaining += (remaining.empty() ? "" : ", ") + r;
      out << "  " << o.address.ToString()
          << ": applied but NOT converged (still differs: " << remaining << ")\n";
    } else {
      ++converged;
    }
  }
  for (const Pending& p : report.pending) {
    out << "  " << p.address.ToString() << ": " << p.path << " pending restart (running "
        << RenderValue(p.live) << ", next boot " << RenderValue(p.config) << ")\n";
  }
  if (!report.verification.ok() && !report.connection_lost)
    out << "  verification failed: " << report.verification.message() << "\n";
  if (report.connection_lost) {
    out << "Apply interrupted: the connection to libvirtd was lost: " << report.Done() << " of "
        << report.outcomes.size() << " resource(s) done, rerun apply to converge.\n";
    return out.str();
  }
  out << "Apply: " << converged << " of " << report.outcomes.size() << " resource(s) converged";
  if (!report.pending.empty()) out << ", " << report.pending.size() << " change(s) pending restart";
  out << (report.ok() ? ".\n" : "; see the failures above.\n");
  return out.str();
}

int RunApply(Driver& driver, Driver::Run& run, const po::variables_map& vm) {
  const bool json = vm["format"].as<std::string>() == "json";
  const bool detailed = vm["detailed-exitcode"].as<bool>();
  const Plan& plan = run.plan;
  Json plan_json = PlanToJson(plan);
  if (!json) std::cout << RenderPlanText(plan_json, StyleForStdout(vm["verbose"].as<bool>()));
  if (!plan.applyable()) {
    if (json)
      std::cout << Json{{"plan", plan_json}, {"apply", nullptr}}.dump(
                       2, ' ', false, Json::error_handler_t::replace)
                << "\n";
    PrintError("apply refused: the plan has errors (see above); nothing was changed");
    return kExitError;
  }
  if (plan.empty()) {
    if (json) {
      std::cout << Json{{"plan", plan_json}, {"apply", nullptr}}.dump(
                       2, ' ', false, Json::error_handler_t::replace)
                << "\n";
    } else {
      std::cout << "\nNothing to do.\n";
    }
    return kExitOk;
  }
  ApplyOptions options;
  options.parallelism = vm["parallelism"].as<int>();
  if (!json) std::cout << "\nApplying:\n";
  ApplyReport report = driver.Apply(run, options, [&](const std::string& line) {
    if (!json) std::cout << "  " << line << "\n" << std::flush;
  });
  if (json) {
    std::cout << Json{{"plan", plan_json}, {"apply", ApplyReportToJson(report)}}.dump(
                     2, ' ', false, Json::error_handler_t::replace)
              << "\n";
  } else {
    std::cout << "\n" << RenderReport(report);
  }
  if (!report.ok()) return kExitError;
  return detailed ? kExitChanges : kExitOk;
}

// Reads a whole file, or standard input for "-".
// A saved plan holds its document (at most kMaxDocumentBytes) and the changes made of it.
constexpr std::size_t kMaxPlanBytes = 4 * kMaxDocumentBytes;

// Reads a saved plan, refusing one larger than kMaxPlanBytes before holding more of it.
StatusOr<std::string> ReadInput(const std::string& path) {
  std::ifstream file;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file)
      return Status::InvalidArgument(path + ": cannot read the plan")
          .WithErrorCode(ErrorCode::kInvalidDocument);
  }
  std::istream& in = path == "-" ? std::cin : file;
  std::string text;
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    text.append(chunk, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxPlanBytes) {
      return Status::InvalidArgument(path + ": a saved plan is at most " +
                                     std::to_string(kMaxPlanBytes >> 20) + " MiB")
          .WithErrorCode(ErrorCode::kInvalidDocument);
    }
  }
  return text;
}

}  // namespace

int Validate(const Args& args) {
  po::options_description options("validate options");
  options.add_options()(
      "format", po::value<std::string>()->default_value("text"),
      "text, or json: {\"valid\": bool, \"resources\": n, \"diagnostics\": [...]} on stdout");
  po::variables_map vm;
  int code = 0;
  if (!ParseArgs(
          args,
          "usage: virtconverge validate FILE...\n\nParse and check documents; touches nothing, "
          "connects to nothing.",
          options, true, &vm, &code)) {
    return code;
  }
  if (!CheckFormat(vm, {"text", "json"})) return kExitError;
  const bool json = vm["format"].as<std::string>() == "json";
  std::vector<std::string> files = Files(vm);
  Document doc;
  Diagnostics diagnostics =
      files.empty() ? Diagnostics{ErrorDiagnostic(ErrorCode::kInvalidDocument, "",
                                                  "no documents given (use - for standard input)")}
                    : LoadDocuments(files, &doc);
  // The reference checks that need no host: RBD disks, images and pools need the ceph: section.
  if (!HasErrors(diagnostics)) {
    Diagnostics ceph = CheckNeedsCeph(doc);
    diagnostics.insert(diagnostics.end(), ceph.begin(), ceph.end());
  }
  bool valid = !HasErrors(diagnostics);
  if (json) {
    std::cout << Json{{"valid", valid},
                      {"resources", valid ? doc.resources.size() : 0},
                      {"diagnostics", DiagnosticsToJson(diagnostics)}}
                     .dump(2, ' ', false, Json::error_handler_t::replace)
              << "\n";
    return valid ? kExitOk : kExitError;
  }
  if (Report(diagnostics)) return kExitError;
  std::cout << "valid: " << doc.resources.size() << " resource(s) in " << files.size()
            << " document(s)\n";
  return kExitOk;
}

int PlanCommand(const Args& args) {
  po::options_description options("plan options");
  AddConnectionOption(options);
  options.add_options()("format", po::value<std::string>()->default_value("text"), "text or json")(
      "out,o", po::value<std::string>(),
      "also write the JSON plan to this file (for apply --plan)")(
      "detailed-exitcode", po::bool_switch(), "exit 2 when there are changes");
  AddAllowOptions(options);
  AddPlanShapeOptions(options);
  po::variables_map vm;
  int code = 0;
  if (!ParseArgs(args,
                 "usage: virtconverge plan FILE... [options]\n\nShow what apply would change, "
                 "attribute by "
                 "attribute, how disruptive each change is, and the exact steps apply will run.",
                 options, true, &vm, &code)) {
    return code;
  }
  if (!CheckFormat(vm, {"text", "json"})) return kExitError;
  const bool json = vm["format"].as<std::string>() == "json";
  PlanOptions plan_options;
  if (!PlanOptionsFrom(vm, &plan_options)) return kExitError;
  Document doc;
  if (!LoadFromCommandLine(vm, &doc, json)) return kExitError;
  Driver driver;
  StatusOr<Driver::Run> run = driver.PlanDocument(doc, Text(vm, "connection"), plan_options);
  if (!run.ok()) return Fail(run.status(), json);
  if (!run->busy.empty()) std::cerr << "warning: " << EscapeInvalidUtf8(run->busy) << "\n";
  Json plan_json = PlanToJson(run->plan);
  if (vm.count("out")) {
    std::ofstream out(vm["out"].as<std::string>());
    out << plan_json.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
    if (!out) {
      PrintError("cannot write " + vm["out"].as<std::string>());
      return kExitError;
    }
  }
  if (json) {
    std::cout << plan_json.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    std::cout << RenderPlanText(plan_json, StyleForStdout(vm["verbose"].as<bool>()));
  }
  if (!run->plan.applyable()) return kExitError;
  return !run->plan.empty() && vm["detailed-exitcode"].as<bool>() ? kExitChanges : kExitOk;
}

int ApplyCommand(const Args& args) {
  po::options_description options("apply options");
  AddConnectionOption(options);
  options.add_options()(
      "plan", po::value<std::string>(),
      "apply this saved plan (from plan --out; - for standard input) instead of documents: "
      "it is planned again from the document it records and applied only if identical")(
      "format", po::value<std::string>()->default_value("text"), "text or json")(
      "detailed-exitcode", po::bool_switch(), "exit 2 when changes were made")(
      "parallelism,p", po::value<int>()->default_value(4), "resources changed at once (1-64)")(
      "lock-wait", po::value<int>()->default_value(static_cast<int>(kDefaultLockWait.count())),
      "seconds to wait while another run holds the host's lock (0: refuse at once, exit 3; "
      "at most 86400)");
  AddAllowOptions(options);
  AddPlanShapeOptions(options);
  po::variables_map vm;
  int code = 0;
  if (!ParseArgs(
          args,
          "usage: virtconverge apply FILE... [options]\n       virtconverge apply --plan PLAN.json "
          "[--allow-destroy] [--allow-restart] [--prune] [--allow-overcommit]\n\nChange the host "
          "to match the "
          "documents: "
          "plan, run the plan's steps in dependency order, observe again and report per resource.\n"
          "A saved plan needs the same allow flags it was made with: they are this run's "
          "permission.",
          options, true, &vm, &code)) {
    return code;
  }
  if (!CheckFormat(vm, {"text", "json"})) return kExitError;
  const bool json = vm["format"].as<std::string>() == "json";
  int parallelism = vm["parallelism"].as<int>();
  if (parallelism < 1 || parallelism > 64) {
    PrintError("--parallelism must be between 1 and 64");
    return kExitError;
  }
  int lock_wait = vm["lock-wait"].as<int>();
  if (lock_wait < 0 || lock_wait > 86400) {
    PrintError("--lock-wait must be between 0 and 86400 seconds");
    return kExitError;
  }
  const LockPolicy lock{"apply", std::chrono::seconds(lock_wait)};
  PlanOptions plan_options;
  if (!PlanOptionsFrom(vm, &plan_options)) return kExitError;
  Driver driver;
  if (!vm.count("plan")) {
    Document doc;
    if (!LoadFromCommandLine(vm, &doc, json)) return kExitError;
    StatusOr<Driver::Run> run =
        driver.PlanDocument(doc, Text(vm, "connection"), plan_options, &lock);
    if (!run.ok()) return Fail(run.status(), json);
    return RunApply(driver, *run, vm);
  }

  // A saved plan: plan again from what it records, apply only if that gives the same plan.
  if (!Files(vm).empty()) {
    PrintError("give either documents or --plan, not both");
    return kExitError;
  }
  if (!vm["shutdown-timeout"].defaulted() || vm.count("ceph-conf") || vm.count("ceph-user")) {
    PrintError(
        "--shutdown-timeout, --ceph-conf and --ceph-user belong to the plan command: a saved plan "
        "records them");
    return kExitError;
  }
  std::string path = vm["plan"].as<std::string>();
  StatusOr<std::string> text = ReadInput(path);
  if (!text.ok()) return Fail(text.status(), json);
  StatusOr<SavedPlan> saved = DecodeSavedPlan(*text);
  if (!saved.ok()) return Fail(saved.status().WithContext(path), json);
  StatusOr<Driver::Run> run =
      driver.ReplanSaved(*saved, Text(vm, "connection"), plan_options, &lock);
  if (!run.ok()) return Fail(run.status().WithContext(path + ": nothing was changed"), json);
  return RunApply(driver, *run, vm);
}

// An observed document on stdout: JSON with the notes on stderr, or YAML with them as comments.
int PrintObserved(const Json& doc, const std::vector<std::string>& notes, bool json) {
  if (json) {
    std::cout << doc.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
    for (const std::string& note : notes) std::cerr << "note: " << note << "\n";
  } else {
    std::cout << ToYaml(doc, notes);
  }
  return kExitOk;
}

int Observe(const Args& args) {
  po::options_description options("observe options");
  AddConnectionOption(options);
  options.add_options()("format", po::value<std::string>()->default_value("yaml"), "yaml or json");
  po::variables_map vm;
  int code = 0;
  if (!ParseArgs(args,
                 "usage: virtconverge observe [options]\n       virtconverge observe FLEET.yaml "
                 "[--format json]\n\nPrint everything the host holds as a desired-state "
                 "document; planning it shows no changes.\nWith documents that declare hosts: (a "
                 "fleet), every host is observed at once and the document places each resource "
                 "on its host(s).",
                 options, true, &vm, &code)) {
    return code;
  }
  if (!Files(vm).empty()) {
    if (!CheckFormat(vm, {"yaml", "json"})) return kExitError;
    Document fleet;
    if (!LoadFromCommandLine(vm, &fleet, false)) return kExitError;
    if (!fleet.fleet()) {
      PrintError("observe takes documents only to read a fleet's hosts: section; these have none");
      return kExitError;
    }
    if (vm.count("connection")) {
      PrintError("--connection names one host; the documents declare a fleet (hosts:)");
      return kExitError;
    }
    Driver driver;
    Driver::Run run;
    StatusOr<ObservedState> observed = driver.ObserveFleet(fleet, false, nullptr, &run);
    if (!observed.ok()) return Fail(observed.status(), false);
    std::map<std::string, std::string> hosts;
    for (const auto& [name, host] : fleet.hosts) hosts[name] = host.connection;
    std::vector<std::string> notes = PendingNotes(*observed);
    for (std::string& note : UndeclarableNotes(*observed)) notes.push_back(std::move(note));
    Json doc = ExportFleetDocument(*observed, hosts, fleet.ceph, &notes);
    return PrintObserved(doc, notes, vm["format"].as<std::string>() == "json");
  }
  if (!CheckFormat(vm, {"yaml", "json"})) return kExitError;
  if (vm.count("ceph-user") && !vm.count("ceph-conf")) {
    PrintError("--ceph-user needs --ceph-conf (the conf names the monitors and the keyring)");
    return kExitError;
  }
  Json ceph = CephSection(vm, Json());
  Driver driver;
  StatusOr<Backends*> backends = driver.Open(ResolveConnection(Text(vm, "connection"), ""), ceph);
  if (!backends.ok()) return Fail(backends.status(), false);
  StatusOr<ObservedState> observed = (*backends)->provider().ObserveAll();
  if (!observed.ok()) return Fail(observed.status(), false);
  std::vector<std::string> notes = PendingNotes(*observed);
  for (std::string& note : UndeclarableNotes(*observed)) notes.push_back(std::move(note));
  // The host's figures (CPUs, memory, free memory, what KSM saves), as a note: not a document
  // field, so the output still plans clean.
  const Json figures = HostFigures((*backends)->provider());
  if (figures.is_object()) notes.push_back(HostNote(observed->connection, figures));
  return PrintObserved(ExportDocument(*observed, ceph), notes,
                       vm["format"].as<std::string>() == "json");
}

int Schema(const Args& args) {
  po::options_description options("schema options");
  po::variables_map vm;
  int code = 0;
  if (!ParseArgs(args, "usage: virtconverge schema desired-state|plan\n\nPrint a JSON Schema.",
                 options, true, &vm, &code)) {
    return code;
  }
  std::vector<std::string> names = Files(vm);
  if (names.size() != 1 || (names[0] != "desired-state" && names[0] != "plan")) {
    PrintError("name one schema: desired-state or plan");
    return kExitError;
  }
  std::cout << (names[0] == "plan" ? PlanSchema() : DesiredStateSchema());
  return kExitOk;
}

// Renders a saved plan for review, exactly as `plan` printed it when it was made; the file is
// checked first (digest, every field), like apply --plan does before it plans again.
int Show(const Args& args) {
  po::options_description options("show options");
  options.add_options()("verbose,v", po::bool_switch(), "show each step's arguments");
  po::variables_map vm;
  int code = 0;
  if (!ParseArgs(args,
                 "usage: virtconverge show PLAN.json [--verbose]\n\nPrint a saved plan (from plan "
                 "--out) as the text plan, after checking it. Touches no host.",
                 options, true, &vm, &code)) {
    return code;
  }
  std::vector<std::string> files = Files(vm);
  if (files.size() != 1) {
    PrintError("name one saved plan (- for standard input)");
    return kExitError;
  }
  StatusOr<std::string> text = ReadInput(files[0]);
  if (!text.ok()) return Fail(text.status(), false);
  StatusOr<SavedPlan> saved = DecodeSavedPlan(*text);
  if (!saved.ok()) return Fail(saved.status().WithContext(files[0]), false);
  StatusOr<Json> json = ReadStrictJson(*text);
  if (!json.ok()) return Fail(json.status().WithContext(files[0]), false);
  // The decoder checks what apply needs, not every field the renderer reads: a plan whose
  // digest was rewritten may still have the wrong shape, and that is an error, not an abort.
  std::string text_plan;
  try {
    text_plan = RenderPlanText(*json, StyleForStdout(vm["verbose"].as<bool>()));
  } catch (const std::exception& e) {
    return Fail(Status::InvalidArgument(files[0] + ": not a plan that can be shown: " + e.what())
                    .WithErrorCode(ErrorCode::kPlanMismatch),
                false);
  }
  std::cout << text_plan;
  return kExitOk;
}

}  // namespace vc::cli
