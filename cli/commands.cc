#include "cli/commands.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "engine/applier.h"
#include "engine/document_parser.h"
#include "engine/export.h"
#include "engine/fingerprint.h"
#include "engine/plan.h"
#include "engine/plan_text.h"
#include "engine/planner.h"
#include "engine/schemas.h"
#include "cli/backends.h"

namespace po = boost::program_options;

namespace vc::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitChanges = 2;

void PrintError(const std::string& message) { std::cerr << "error: " << message << "\n"; }

// Prints the diagnostics; true when one of them is an error.
bool Report(const Diagnostics& diagnostics) {
  for (const Diagnostic& d : diagnostics) {
    std::cerr << (d.severity == Diagnostic::Severity::kError ? "error: " : "warning: ") << d.summary
              << "\n";
    if (!d.detail.empty()) std::cerr << "    " << d.detail << "\n";
  }
  return HasErrors(diagnostics);
}

// Parses `args` against `options` (plus --help and positional FILEs when `files` is set).
// Returns false, having printed why, when the process should exit with *exit_code.
bool ParseArgs(const Args& args, const std::string& usage, po::options_description& options,
               bool files, po::variables_map* vm, int* exit_code) {
  options.add_options()("help,h", "show this help");
  po::options_description hidden;
  po::positional_options_description positional;
  if (files) {
    hidden.add_options()("file", po::value<std::vector<std::string>>(), "document");
    positional.add("file", -1);
  }
  po::options_description all;
  all.add(options).add(hidden);
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), *vm);
    po::notify(*vm);
  } catch (const po::error& e) {
    PrintError(std::string(e.what()) + " (see --help)");
    *exit_code = kExitError;
    return false;
  }
  if (vm->count("help")) {
    std::cout << usage << "\n" << options;
    *exit_code = kExitOk;
    return false;
  }
  return true;
}

std::vector<std::string> Files(const po::variables_map& vm) {
  return vm.count("file") ? vm["file"].as<std::vector<std::string>>() : std::vector<std::string>{};
}

std::string ResolveConnection(const po::variables_map& vm, const Document& doc) {
  if (vm.count("connection")) return vm["connection"].as<std::string>();
  if (!doc.connection.empty()) return doc.connection;
  if (const char* env = std::getenv("LIBVIRT_DEFAULT_URI"); env != nullptr && *env != '\0') return env;
  return "qemu:///system";
}

TextStyle StyleForStdout() {
  const char* no_color = std::getenv("NO_COLOR");
  return TextStyle{isatty(STDOUT_FILENO) == 1 && (no_color == nullptr || *no_color == '\0')};
}

bool CheckFormat(const po::variables_map& vm, std::initializer_list<const char*> allowed) {
  std::string format = vm["format"].as<std::string>();
  for (const char* a : allowed) {
    if (format == a) return true;
  }
  PrintError("--format " + format + " is not one of the supported formats (see --help)");
  return false;
}

Json CephSection(const po::variables_map& vm, const Json& from_documents);

// Everything plan and apply share: documents read, host observed, plan computed.
struct Planned {
  Document doc;
  std::unique_ptr<Backends> backends;
  ObservedState observed;
  Plan plan;
};

// Returns false (having printed why) on any error before a plan exists.
bool MakePlan(const po::variables_map& vm, const PlanOptions& options, Planned* out) {
  std::vector<std::string> files = Files(vm);
  if (files.empty()) {
    PrintError("no documents given (use - for standard input)");
    return false;
  }
  if (Report(LoadDocuments(files, &out->doc))) return false;
  out->doc.ceph = CephSection(vm, out->doc.ceph);  // --ceph-conf/--ceph-user count as the section
  std::string uri = ResolveConnection(vm, out->doc);
  StatusOr<std::unique_ptr<Backends>> backends = Backends::Open(uri, CephSection(vm, out->doc.ceph));
  if (!backends.ok()) {
    PrintError(backends.status().message());
    return false;
  }
  out->backends = std::move(*backends);
  StatusOr<ObservedState> observed = ObserveFor(out->doc, options, out->backends->provider());
  if (!observed.ok()) {
    PrintError(observed.status().message());
    return false;
  }
  out->observed = std::move(*observed);
  out->plan = ComputePlan(out->doc, out->observed, options);
  return true;
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
  options.add_options()("allow-destroy", po::bool_switch(),
                        "permit destructive changes: deleting or shrinking volumes, replacing "
                        "resources")(
      "allow-restart", po::bool_switch(),
      "restart running domains whose change needs it (graceful shutdown, then start); without "
      "it such changes wait in the persistent config for the next boot")(
      "prune", po::bool_switch(),
      "delete resources that carry virtconverge's mark but are no longer declared");
}

PlanOptions PlanOptionsFrom(const po::variables_map& vm) {
  return PlanOptions{vm["allow-destroy"].as<bool>(), vm["allow-restart"].as<bool>(),
                     vm["prune"].as<bool>()};
}

std::string RenderReport(const ApplyReport& report) {
  std::ostringstream out;
  int converged = 0;
  for (const ResourceOutcome& o : report.outcomes) {
    if (!o.status.ok()) {
      out << "  " << o.address.ToString() << ": FAILED: " << o.status.message() << "\n";
    } else if (!o.converged) {
      std::string remaining;
      for (const std::string& r : o.remaining) remaining += (remaining.empty() ? "" : ", ") + r;
      out << "  " << o.address.ToString() << ": applied but NOT converged (still differs: "
          << remaining << ")\n";
    } else {
      ++converged;
    }
  }
  for (const Pending& p : report.pending) {
    out << "  " << p.address.ToString() << ": " << p.path << " pending restart (running "
        << RenderValue(p.live) << ", next boot " << RenderValue(p.config) << ")\n";
  }
  if (!report.verification.ok()) out << "  verification failed: " << report.verification.message() << "\n";
  out << "Apply: " << converged << " of " << report.outcomes.size() << " resource(s) converged";
  if (!report.pending.empty()) out << ", " << report.pending.size() << " change(s) pending restart";
  out << (report.ok() ? ".\n" : "; see the failures above.\n");
  return out.str();
}

int RunApply(const Plan& plan, const ObservedState& observed, Provider& provider,
             const po::variables_map& vm) {
  const bool json = vm["format"].as<std::string>() == "json";
  const bool detailed = vm["detailed-exitcode"].as<bool>();
  Json plan_json = PlanToJson(plan);
  if (!json) std::cout << RenderPlanText(plan_json, StyleForStdout());
  if (!plan.applyable()) {
    if (json) std::cout << Json{{"plan", plan_json}, {"apply", nullptr}}.dump(2) << "\n";
    PrintError("apply refused: the plan has errors (see above); nothing was changed");
    return kExitError;
  }
  if (plan.empty()) {
    if (json) std::cout << Json{{"plan", plan_json}, {"apply", nullptr}}.dump(2) << "\n";
    else std::cout << "\nNothing to do.\n";
    return kExitOk;
  }
  ApplyOptions options;
  options.parallelism = vm["parallelism"].as<int>();
  options.shutdown_timeout_seconds = vm["shutdown-timeout"].as<int>();
  if (!json) std::cout << "\nApplying:\n";
  ApplyReport report = ApplyPlan(plan, observed, provider, options, [&](const std::string& line) {
    if (!json) std::cout << "  " << line << "\n" << std::flush;
  });
  if (json) {
    std::cout << Json{{"plan", plan_json}, {"apply", ApplyReportToJson(report)}}.dump(2) << "\n";
  } else {
    std::cout << "\n" << RenderReport(report);
  }
  if (!report.ok()) return kExitError;
  return detailed ? kExitChanges : kExitOk;
}

}  // namespace

int Validate(const Args& args) {
  po::options_description options("validate options");
  options.add_options()("format", po::value<std::string>()->default_value("text"),
                        "text, or json: {\"valid\": bool, \"resources\": n, \"diagnostics\": [...]} on stdout");
  po::variables_map vm;
  int code = 0;
  if (!ParseArgs(args, "usage: virtconverge validate FILE...\n\nParse and check documents; "
                       "touches nothing, connects to nothing.",
                 options, true, &vm, &code)) {
    return code;
  }
  std::vector<std::string> files = Files(vm);
  if (files.empty()) {
    PrintError("no documents given (use - for standard input)");
    return kExitError;
  }
  if (!CheckFormat(vm, {"text", "json"})) return kExitError;
  Document doc;
  Diagnostics diagnostics = LoadDocuments(files, &doc);
  if (vm["format"].as<std::string>() == "json") {
    Json list = Json::array();
    for (const Diagnostic& d : diagnostics) {
      list.push_back({{"severity", d.severity == Diagnostic::Severity::kError ? "error" : "warning"},
                      {"address", d.address},
                      {"summary", d.summary},
                      {"detail", d.detail}});
    }
    bool valid = !HasErrors(diagnostics);
    std::cout << Json{{"valid", valid}, {"resources", valid ? doc.resources.size() : 0}, {"diagnostics", list}}.dump(2)
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
      "out,o", po::value<std::string>(), "also write the JSON plan to this file (for apply --plan)")(
      "detailed-exitcode", po::bool_switch(), "exit 2 when there are changes");
  AddAllowOptions(options);
  po::variables_map vm;
  int code = 0;
  if (!ParseArgs(args, "usage: virtconverge plan FILE... [options]\n\nShow what apply would "
                       "change, attribute by attribute, and how disruptive each change is.",
                 options, true, &vm, &code)) {
    return code;
  }
  if (!CheckFormat(vm, {"text", "json"})) return kExitError;
  Planned planned;
  if (!MakePlan(vm, PlanOptionsFrom(vm), &planned)) return kExitError;
  Json plan_json = PlanToJson(planned.plan);
  if (vm.count("out")) {
    std::ofstream out(vm["out"].as<std::string>());
    out << plan_json.dump(2) << "\n";
    if (!out) {
      PrintError("cannot write " + vm["out"].as<std::string>());
      return kExitError;
    }
  }
  if (vm["format"].as<std::string>() == "json") {
    std::cout << plan_json.dump(2) << "\n";
  } else {
    std::cout << RenderPlanText(plan_json, StyleForStdout());
  }
  if (!planned.plan.applyable()) return kExitError;
  return !planned.plan.empty() && vm["detailed-exitcode"].as<bool>() ? kExitChanges : kExitOk;
}

int ApplyCommand(const Args& args) {
  po::options_description options("apply options");
  AddConnectionOption(options);
  options.add_options()("plan", po::value<std::string>(),
                        "apply this saved plan (from plan --out; - for standard input) instead of documents")(
      "format", po::value<std::string>()->default_value("text"), "text or json")(
      "detailed-exitcode", po::bool_switch(), "exit 2 when changes were made")(
      "parallelism,p", po::value<int>()->default_value(4), "resources changed at once (1-64)")(
      "shutdown-timeout", po::value<int>()->default_value(60),
      "seconds a guest gets to shut down (ACPI) before it is forced off");
  AddAllowOptions(options);
  po::variables_map vm;
  int code = 0;
  if (!ParseArgs(args, "usage: virtconverge apply FILE... [options]\n       virtconverge apply "
                       "--plan PLAN.json [options]\n\nChange the host to match the documents: plan, "
                       "apply in dependency order, observe again and report per resource.",
                 options, true, &vm, &code)) {
    return code;
  }
  if (!CheckFormat(vm, {"text", "json"})) return kExitError;
  int parallelism = vm["parallelism"].as<int>();
  if (parallelism < 1 || parallelism > 64) {
    PrintError("--parallelism must be between 1 and 64");
    return kExitError;
  }
  if (vm["shutdown-timeout"].as<int>() < 0) {
    PrintError("--shutdown-timeout must not be negative");
    return kExitError;
  }
  if (!vm.count("plan")) {
    Planned planned;
    if (!MakePlan(vm, PlanOptionsFrom(vm), &planned)) return kExitError;
    return RunApply(planned.plan, planned.observed, planned.backends->provider(), vm);
  }

  // A saved plan: apply exactly it, and only if the host is as it was when it was made.
  if (!Files(vm).empty()) {
    PrintError("give either documents or --plan, not both");
    return kExitError;
  }
  std::string path = vm["plan"].as<std::string>();
  std::ifstream file;
  if (path != "-") {
    file.open(path);
    if (!file) {
      PrintError(path + ": cannot read the plan");
      return kExitError;
    }
  }
  Json json = Json::parse(path == "-" ? std::cin : file, nullptr, false);
  if (json.is_discarded()) {
    PrintError(path + ": not JSON");
    return kExitError;
  }
  StatusOr<Plan> plan = PlanFromJson(json);
  if (!plan.ok()) {
    PrintError(path + ": " + plan.status().message());
    return kExitError;
  }
  if (vm["allow-destroy"].as<bool>() || vm["allow-restart"].as<bool>() || vm["prune"].as<bool>()) {
    PrintError("allow flags belong to the plan command when applying a saved plan");
    return kExitError;
  }
  std::string uri = vm.count("connection") ? vm["connection"].as<std::string>() : plan->connection;
  StatusOr<std::unique_ptr<Backends>> backends = Backends::Open(uri, plan->ceph);
  if (!backends.ok()) {
    PrintError(backends.status().message());
    return kExitError;
  }
  Provider& provider = (*backends)->provider();
  if (provider.uri() != plan->connection) {
    PrintError("the plan was made for " + plan->connection + ", not " + provider.uri());
    return kExitError;
  }
  StatusOr<ObservedState> observed = provider.ObserveAll();
  if (!observed.ok()) {
    PrintError(observed.status().message());
    return kExitError;
  }
  std::string now = Fingerprint(*observed, FingerprintAddresses(plan->changes));
  if (now != plan->fingerprint) {
    PrintError("the host changed since the plan was made (fingerprint " + plan->fingerprint +
               ", now " + now + "); nothing was changed: run plan again");
    return kExitError;
  }
  return RunApply(*plan, *observed, provider, vm);
}

int Observe(const Args& args) {
  po::options_description options("observe options");
  AddConnectionOption(options);
  options.add_options()("format", po::value<std::string>()->default_value("yaml"), "yaml or json");
  po::variables_map vm;
  int code = 0;
  if (!ParseArgs(args, "usage: virtconverge observe [options]\n\nPrint everything the host holds "
                       "as a desired-state document; planning it shows no changes.",
                 options, false, &vm, &code)) {
    return code;
  }
  if (!CheckFormat(vm, {"yaml", "json"})) return kExitError;
  std::string uri = ResolveConnection(vm, Document{});
  if (vm.count("ceph-user") && !vm.count("ceph-conf")) {
    PrintError("--ceph-user needs --ceph-conf (the conf names the monitors and the keyring)");
    return kExitError;
  }
  Json ceph = CephSection(vm, Json());
  StatusOr<std::unique_ptr<Backends>> backends = Backends::Open(uri, ceph);
  if (!backends.ok()) {
    PrintError(backends.status().message());
    return kExitError;
  }
  StatusOr<ObservedState> observed = (*backends)->provider().ObserveAll();
  if (!observed.ok()) {
    PrintError(observed.status().message());
    return kExitError;
  }
  Json doc = ExportDocument(*observed, ceph);
  std::vector<std::string> pending = PendingNotes(*observed);
  if (vm["format"].as<std::string>() == "json") {
    std::cout << doc.dump(2) << "\n";
    for (const std::string& note : pending) std::cerr << "note: " << note << "\n";
  } else {
    std::cout << ToYaml(doc, pending);
  }
  return kExitOk;
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

}  // namespace vc::cli
