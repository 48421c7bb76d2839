// `virtconverge server`: the engine over HTTP (docs/api.md). A document is proposed, its plan
// stored and reviewed (JSON, or the review page at /), and exactly that saved plan applied —
// planned again first and refused when the hosts changed. One apply at a time; every API request
// needs the bearer token; loopback only unless TLS is configured. Every handler turns whatever
// goes wrong into an error response: the server goes on serving.
#include <arpa/inet.h>
#include <httplib.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "cli/api_request.h"
#include "cli/backup_runner.h"
#include "cli/commands.h"
#include "cli/document_dirs.h"
#include "cli/drift.h"
#include "cli/driver.h"
#include "cli/plan_store.h"
#include "cli/web_assets.h"
#include "engine/document_parser.h"
#include "engine/export.h"
#include "engine/json_reader.h"
#include "engine/names.h"
#include "engine/placement.h"
#include "engine/plan_text.h"
#include "engine/version.h"

namespace vc::cli {
namespace {

namespace po = boost::program_options;

constexpr std::chrono::seconds kApplyLockWait{10};  // the host lock, before the request answers
constexpr std::size_t kWorkers = 32;                // request threads
constexpr int kMaxEventStreams = 8;                 // open /events streams; more get 503

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8470;
  std::string token;
  std::string tls_cert;
  std::string tls_key;
  std::string connection;
  std::vector<std::string> documents;
  std::chrono::seconds drift_interval{300};
  std::size_t max_body = kMaxDocumentBytes;
  std::size_t plans = 100;
  std::string backup_dir;  // --backup-dir: where POST /v1/backups writes; "" refuses backups
};

// ---------------------------------------------------------------- configuration

// A loopback address, parsed (not a name that merely starts with "127."): 127.0.0.0/8, ::1, or
// "localhost".
bool IsLoopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

// "HOST:PORT" or "[V6]:PORT".
Status ParseListen(const std::string& text, ServerConfig* config) {
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    std::size_t end = text.find("]:");
    if (end == std::string::npos)
      return Status::InvalidArgument("--listen: expected [ADDRESS]:PORT");
    host = text.substr(1, end - 1);
    port = text.substr(end + 2);
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string::npos) return Status::InvalidArgument("--listen: expected HOST:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return Status::InvalidArgument(
        "--listen: expected HOST:PORT with a port from 0 to 65535, got " + Quote(text));
  }
  config->host = host;
  config->port = std::stoi(port);
  if (config->port == 0) return Status::InvalidArgument("--listen: the port must be 1 to 65535");
  return Status::Ok();
}

// The token: the file's first line, 16-4096 printable characters; the file readable by its owner
// only (the token is the whole of the access control).
StatusOr<std::string> ReadToken(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0)
    return Status::InvalidArgument("--token-file " + path + ": cannot be read");
  if (!S_ISREG(st.st_mode))
    return Status::InvalidArgument("--token-file " + path + ": not a plain file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return Status::InvalidArgument("--token-file " + path +
                                   ": readable or writable by others (mode " + mode +
                                   "); chmod 600 it");
  }
  std::ifstream in(path);
  std::string token;
  if (!in || !std::getline(in, token))
    return Status::InvalidArgument("--token-file " + path + ": empty");
  if (!token.empty() && token.back() == '\r') token.pop_back();
  if (token.size() < 16 || token.size() > 4096)
    return Status::InvalidArgument("--token-file " + path +
                                   ": the token must be 16 to 4096 characters");
  for (char c : token) {
    if (c < 0x21 || c > 0x7e)
      return Status::InvalidArgument("--token-file " + path +
                                     ": the token must be printable ASCII without spaces");
  }
  return token;
}

// ---------------------------------------------------------------- responses

int HttpStatusOf(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidDocument:
    case ErrorCode::kUnknownField:
    case ErrorCode::kInvalidValue:
    case ErrorCode::kMissingField:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kHostBusy:
      return 409;
    case ErrorCode::kChangedSincePlan:
    case ErrorCode::kPlanMismatch:
    case ErrorCode::kNeedsAllowDestroy:
    case ErrorCode::kNeedsAllowRestart:
    case ErrorCode::kOverCommitted:
      return 412;
    case ErrorCode::kConnectionFailed:
    case ErrorCode::kConnectionLost:
    case ErrorCode::kCephUnavailable:
    case ErrorCode::kTimeout:
      return 503;
    default:
      return 500;
  }
}

void SendJson(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
}

void SendError(httplib::Response& res, int status, const std::string& code,
               const std::string& message, bool transient = false) {
  SendJson(res, status,
           {{"error",
             {{"code", code}, {"message", EscapeInvalidUtf8(message)}, {"transient", transient}}}});
}

void SendStatus(httplib::Response& res, const Status& status) {
  const ErrorCode code =
      status.error_code() == ErrorCode::kNone ? ErrorCode::kInternal : status.error_code();
  SendError(res, HttpStatusOf(code), std::string(ErrorCodeName(code)), status.message(),
            status.transient());
}

std::string SseEvent(const std::string& event, const Json& data) {
  return "event: " + event +
         "\ndata: " + data.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n";
}

// ---------------------------------------------------------------- the server

class ApiServer {
 public:
  ApiServer(ServerConfig config, httplib::Server& http)
      : config_(std::move(config)),
        http_(http),
        store_(config_.plans),
        drift_(config_.documents, config_.connection, config_.drift_interval) {}

  ~ApiServer() {
    // An apply in progress is finished, not abandoned half-way.
    std::lock_guard<std::mutex> lock(threads_mutex_);
    for (std::thread& t : apply_threads_) {
      if (t.joinable()) t.join();
    }
  }

  void Install() {
    http_.set_payload_max_length(config_.max_body);
    http_.set_read_timeout(5, 0);  // a client that trickles its request loses its thread soon
    // More workers than the library's 8: event streams hold theirs for a whole apply.
    http_.new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
    http_.set_write_timeout(30, 0);
    http_.set_keep_alive_timeout(5);
    http_.set_pre_routing_handler(
        [this](const httplib::Request& req, httplib::Response& res) { return Gate(req, res); });
    http_.set_error_handler([this](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      switch (res.status) {
        case 404:
          return SendError(res, 404, "not_found", "no such resource");
        case 413:
          return SendError(
              res, 413, "too_large",
              "the body is larger than " + std::to_string(config_.max_body) + " bytes");
        default:
          return SendError(res, res.status, "bad_request", "the request could not be served");
      }
    });
    http_.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "unknown";
          try {
            if (ep) std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          SendError(res, 500, "internal", "internal error: " + what);
        });
    http_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      {
        std::lock_guard<std::mutex> lock(metrics_mutex_);
        ++requests_by_code_[res.status];
      }
      // Method, path and status only: never a header (the token) nor a body (documents).
      std::cerr << "server: " << Quote(req.method) << " " << Quote(req.path) << " " << res.status
                << "\n";
    });
    http_.set_default_headers({{"Cache-Control", "no-store"},
                               {"X-Content-Type-Options", "nosniff"},
                               {"X-Frame-Options", "DENY"},
                               {"Referrer-Policy", "no-referrer"}});

    Guarded("GET", "/", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Content-Security-Policy",
                     "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                     "connect-src 'self'; img-src 'self' data:; form-action 'none'; "
                     "frame-ancestors 'none'; base-uri 'none'");
      res.set_content(std::string(ReviewPage()), "text/html; charset=utf-8");
    });
    Guarded("GET", "/v1/openapi.json", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(OpenApiDescription()), "application/json");
    });
    Guarded("GET", "/v1/health", [this](const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200,
               {{"status", "ok"}, {"version", kVersion}, {"apply_running", applying_.load()}});
    });
    Guarded("GET", "/v1/observe",
            [this](const httplib::Request&, httplib::Response& res) { Observe(res); });
    Guarded("POST", "/v1/plans",
            [this](const httplib::Request& req, httplib::Response& res) { ProposePlan(req, res); });
    Guarded("GET", "/v1/plans",
            [this](const httplib::Request&, httplib::Response& res) { ListPlans(res); });
    Guarded("GET", R"(/v1/plans/(p-[0-9a-f]{32}))",
            [this](const httplib::Request& req, httplib::Response& res) {
              ShowPlan(req.matches[1], res);
            });
    Guarded("POST", R"(/v1/plans/(p-[0-9a-f]{32})/apply)",
            [this](const httplib::Request& req, httplib::Response& res) {
              ApplyPlan(req.matches[1], req, res);
            });
    Guarded("GET", R"(/v1/plans/(p-[0-9a-f]{32})/events)",
            [this](const httplib::Request& req, httplib::Response& res) {
              Events(req.matches[1], res);
            });
    Guarded("GET", "/v1/documents", [this](const httplib::Request&, httplib::Response& res) {
      Json list = Json::array();
      for (const DocumentFile& f : ListDocuments(config_.documents))
        list.push_back({{"name", f.name}, {"directory", f.directory}});
      SendJson(res, 200, {{"documents", list}});
    });
    Guarded("GET", R"(/v1/documents/([A-Za-z0-9][A-Za-z0-9_.+-]{0,250}))",
            [this](const httplib::Request& req, httplib::Response& res) {
              ShowDocument(req.matches[1], res);
            });
    Guarded("GET", "/v1/drift", [this](const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200, DriftReportToJson(drift_.Report()));
    });
    Guarded("POST", "/v1/backups",
            [this](const httplib::Request& req, httplib::Response& res) { Backup(req, res); });
    Guarded("GET", "/metrics",
            [this](const httplib::Request&, httplib::Response& res) { Metrics(res); });
  }

 private:
  // Registers a handler inside a guard: no exception leaves it.
  void Guarded(const char* method, const std::string& pattern, httplib::Server::Handler handler) {
    auto guarded = [handler = std::move(handler)](const httplib::Request& req,
                                                  httplib::Response& res) {
      try {
        handler(req, res);
      } catch (const std::exception& e) {
        SendError(res, 500, "internal", std::string("internal error: ") + e.what());
      } catch (...) {
        SendError(res, 500, "internal", "internal error");
      }
    };
    if (std::string(method) == "GET")
      http_.Get(pattern, guarded);
    else
      http_.Post(pattern, guarded);
  }

  // Before routing (and before any body is read): the origin and the token.
  httplib::Server::HandlerResponse Gate(const httplib::Request& req, httplib::Response& res) {
    using R = httplib::Server::HandlerResponse;
    if (req.has_header("Origin")) {
      // The server's own origins only, whatever Host says (a rebound DNS name is not one).
      const std::string origin = req.get_header_value("Origin");
      const std::string scheme = config_.tls_cert.empty() ? "http://" : "https://";
      const std::string port = ":" + std::to_string(config_.port);
      const std::string host =
          config_.host.find(':') != std::string::npos ? "[" + config_.host + "]" : config_.host;
      // Under TLS the name the browser used is the certificate's, so a rebound name fails
      // there: the Host it sent is then the server's own too.
      const bool tls_host =
          !config_.tls_cert.empty() && origin == scheme + req.get_header_value("Host");
      if (!tls_host && origin != scheme + host + port && origin != scheme + "localhost" + port &&
          origin != scheme + "127.0.0.1" + port) {
        SendError(res, 403, "forbidden_origin", "requests from another origin are refused");
        return R::Handled;
      }
    }
    if (req.method == "GET" && (req.path == "/" || req.path == "/v1/openapi.json"))
      return R::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    const std::string expected = "Bearer " + config_.token;
    if (auth.size() != expected.size() ||
        CRYPTO_memcmp(auth.data(), expected.data(), expected.size()) != 0) {
      res.set_header("WWW-Authenticate", "Bearer");
      SendError(res, 401, "unauthorized", "a valid bearer token is required");
      return R::Handled;
    }
    if (req.method == "POST") return Framing(req, res) ? R::Unhandled : R::Handled;
    return R::Unhandled;
  }

  // A body is read only when it says its length, within the limit, and is not compressed
  // (the library checks only Content-Length, reads chunked or length-less bodies to the end, and
  // inflates gzip after its check). Answered before a byte of it is read.
  bool Framing(const httplib::Request& req, httplib::Response& res) {
    auto refuse = [&](int status, const char* code, const std::string& message) {
      res.set_header("Connection", "close");
      SendError(res, status, code, message);
      return false;
    };
    if (req.has_header("Transfer-Encoding"))
      return refuse(411, "bad_request", "a chunked body is not taken: send Content-Length");
    const std::string encoding = req.get_header_value("Content-Encoding");
    if (!encoding.empty() && encoding != "identity")
      return refuse(415, "bad_request", "a compressed body is not taken");
    if (!req.has_header("Content-Length"))
      return refuse(411, "bad_request", "the body's Content-Length is required");
    const std::string length = req.get_header_value("Content-Length");
    if (length.empty() || length.size() > 19 ||
        length.find_first_not_of("0123456789") != std::string::npos)
      return refuse(400, "bad_request", "Content-Length is not a number");
    if (std::stoull(length) > config_.max_body) {
      return refuse(413, "too_large",
                    "the body is larger than " + std::to_string(config_.max_body) + " bytes");
    }
    return true;
  }

  // The host documents without their own connection are planned on.
  std::string ExplicitConnection(const Document& doc) const {
    return doc.fleet() || !doc.connection.empty() ? "" : config_.connection;
  }

  void Observe(httplib::Response& res) {
    Driver driver;
    StatusOr<Backends*> backends = driver.Open(ResolveConnection(config_.connection, ""), nullptr);
    if (!backends.ok()) return SendStatus(res, backends.status());
    StatusOr<ObservedState> observed = (*backends)->provider().ObserveAll();
    if (!observed.ok()) return SendStatus(res, observed.status());
    SendJson(res, 200,
             {{"document", ExportDocument(*observed, nullptr)},
              {"pending", PendingNotes(*observed)},
              {"host", HostFigures((*backends)->provider())}});
  }

  void ProposePlan(const httplib::Request& req, httplib::Response& res) {
    StatusOr<PlanRequest> request =
        DecodePlanRequest(req.body, req.get_header_value("Content-Type"));
    if (!request.ok()) return SendStatus(res, request.status());
    Document doc;
    Diagnostics diagnostics = ParseDocument(request->document, "<request>", &doc);
    if (!HasErrors(diagnostics)) {
      Diagnostics limits = CheckLimits(doc);
      diagnostics.insert(diagnostics.end(), limits.begin(), limits.end());
      Diagnostics placement = CheckPlacement(doc);
      diagnostics.insert(diagnostics.end(), placement.begin(), placement.end());
    }
    if (HasErrors(diagnostics)) {
      // The answer's code is the first error's (unknown_field, invalid_value, ...), as in a plan.
      const Diagnostic* first = nullptr;
      for (const Diagnostic& d : diagnostics) {
        if (d.severity == Diagnostic::Severity::kError) {
          first = &d;
          break;
        }
      }
      return SendJson(res, 422,
                      {{"error",
                        {{"code", ErrorCodeName(first->code)},
                         {"message", EscapeInvalidUtf8(first->summary)},
                         {"transient", false}}},
                       {"diagnostics", DiagnosticsToJson(diagnostics)}});
    }
    Driver driver;
    StatusOr<Driver::Run> run = driver.PlanDocument(doc, ExplicitConnection(doc), request->options);
    if (!run.ok()) return SendStatus(res, run.status());
    Json plan = PlanToJson(run->plan);
    std::string text = RenderPlanText(plan, TextStyle{});
    std::string id = store_.Add(plan, text);
    Json body = {{"id", id}, {"status", "planned"}, {"plan", plan}, {"text", text}};
    if (!run->busy.empty()) body["busy"] = run->busy;
    res.set_header("Location", "/v1/plans/" + id);
    SendJson(res, 201, body);
  }

  void ListPlans(httplib::Response& res) {
    Json list = Json::array();
    for (const PlanStore::Summary& r : store_.List()) {
      list.push_back({{"id", r.id},
                      {"created", r.created},
                      {"status", PlanStatusName(r.status)},
                      {"applyable", r.applyable},
                      {"summary", r.summary}});
    }
    SendJson(res, 200, {{"plans", list}});
  }

  void ShowPlan(const std::string& id, httplib::Response& res) {
    std::optional<PlanRecord> r = store_.Get(id);
    if (!r) return SendError(res, 404, "not_found", "no plan " + id);
    SendJson(res, 200,
             {{"id", r->id},
              {"created", r->created},
              {"status", PlanStatusName(r->status)},
              {"plan", r->plan},
              {"text", r->text},
              {"apply", r->apply},
              {"log", r->log}});
  }

  void ShowDocument(const std::string& name, httplib::Response& res) {
    for (const DocumentFile& f : ListDocuments(config_.documents)) {
      if (f.name != name) continue;
      std::error_code error;
      const std::uintmax_t size = std::filesystem::file_size(f.path, error);
      if (error) return SendError(res, 500, "internal", "cannot read " + name);
      if (size > kMaxDocumentBytes)
        return SendError(res, 413, "too_large", name + " is larger than a document may be");
      std::ifstream in(f.path, std::ios::binary);
      std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof()) return SendError(res, 500, "internal", "cannot read " + name);
      if (content.size() > kMaxDocumentBytes)
        return SendError(res, 413, "too_large", name + " is larger than a document may be");
      return SendJson(res, 200, {{"name", name}, {"content", EscapeInvalidUtf8(content)}});
    }
    SendError(res, 404, "not_found", "no document " + name);
  }

  // The apply of a stored plan: planned again now, with this request's allows, and started only
  // when identical (CompareWithSaved); then the steps run on a thread of their own and the
  // request answers 202 at once.
  void ApplyPlan(const std::string& id, const httplib::Request& req, httplib::Response& res) {
    StatusOr<PlanOptions> allows =
        DecodeApplyRequest(req.body, req.get_header_value("Content-Type"));
    if (!allows.ok()) return SendStatus(res, allows.status());
    std::optional<PlanRecord> record = store_.Get(id);
    if (!record) return SendError(res, 404, "not_found", "no plan " + id);
    if (record->status != PlanStatus::kPlanned && record->status != PlanStatus::kRefused) {
      // Not "busy": waiting does not help, planning again does.
      return SendError(res, 409, "already_applied",
                       "plan " + id + " is " + std::string(PlanStatusName(record->status)) +
                           ": a plan is applied once (propose the document again)");
    }
    if (!record->plan.value("applyable", false)) {
      return SendError(res, 422, "invalid_value", "the plan has errors: it cannot be applied");
    }
    bool expected = false;
    if (!applying_.compare_exchange_strong(expected, true)) {
      return SendError(res, 409, "busy", "another apply is running; wait for it to end", true);
    }
    bool handed_over = false;
    struct Release {
      std::atomic<bool>& flag;
      bool& handed_over;
      ~Release() {
        if (!handed_over) flag = false;
      }
    } release{applying_, handed_over};
    // Reserved before planning again: no other request can apply or refuse it meanwhile.
    if (!store_.StartApply(id)) {
      if (!store_.Get(id)) return SendError(res, 404, "not_found", "no plan " + id);
      return SendError(res, 409, "already_applied", "plan " + id + " is already applied");
    }
    StatusOr<SavedPlan> saved = DecodeSavedPlan(record->plan.dump());
    if (!saved.ok()) {
      Refuse(id, saved.status());
      return SendStatus(res, saved.status());
    }
    auto driver = std::make_shared<Driver>();
    LockPolicy lock{"server apply", kApplyLockWait};
    StatusOr<Driver::Run> run = driver->ReplanSaved(*saved, "", *allows, &lock);
    if (!run.ok()) {
      Refuse(id, run.status());
      return SendStatus(res, run.status());
    }
    auto shared_run = std::make_shared<Driver::Run>(std::move(*run));
    {
      std::lock_guard<std::mutex> threads(threads_mutex_);
      // One apply at a time: the threads of earlier ones have ended (or are about to).
      for (std::thread& t : apply_threads_) t.join();
      apply_threads_.clear();
      try {
        apply_threads_.emplace_back(
            [this, id, driver, shared_run] { RunApply(id, *driver, *shared_run); });
      } catch (const std::exception& e) {  // no thread: nothing ran, and the next may try
        Refuse(id, Status::Internal(std::string("cannot start the apply: ") + e.what()));
        return SendError(res, 503, "internal", "cannot start the apply", true);
      }
      handed_over = true;  // the thread clears applying_ when it ends
    }
    SendJson(res, 202, {{"id", id}, {"status", "applying"}});
  }

  // A backup of a running domain into a directory under --backup-dir, answered when it ends.
  void Backup(const httplib::Request& req, httplib::Response& res) {
    if (config_.backup_dir.empty())
      return SendError(res, 404, "not_found", "backups are not enabled (--backup-dir)");
    StatusOr<BackupApiRequest> request =
        DecodeBackupRequest(req.body, req.get_header_value("Content-Type"));
    if (!request.ok()) return SendStatus(res, request.status());
    BackupRequest backup;
    backup.domain = request->domain;
    backup.dir = config_.backup_dir + "/" + request->name;
    backup.incremental = request->incremental;
    StatusOr<Json> record = RunBackup(ResolveConnection(config_.connection, ""), backup);
    if (!record.ok()) return SendStatus(res, record.status());
    SendJson(res, 201, {{"backup", *record}, {"name", request->name}});
  }

  void Refuse(const std::string& id, const Status& why) {
    store_.AppendLog(id, "refused: " + why.message());
    store_.Finish(id, PlanStatus::kRefused, nullptr);
  }

  void RunApply(const std::string& id, Driver& driver, Driver::Run& run) {
    bool ok = false;
    try {
      store_.AppendLog(id, "applying " + std::to_string(run.plan.changes.size()) + " change(s)");
      ApplyOptions options;
      ApplyReport report =
          driver.Apply(run, options, [&](const std::string& line) { store_.AppendLog(id, line); });
      ok = report.ok();
      Json json = ApplyReportToJson(report);
      store_.AppendLog(id, ok ? "converged" : "not converged: see the report");
      store_.Finish(id, ok ? PlanStatus::kApplied : PlanStatus::kFailed, json);
    } catch (const std::exception& e) {  // the worker's guard
      store_.AppendLog(id, std::string("internal error: ") + e.what());
      store_.Finish(id, PlanStatus::kFailed, nullptr);
    }
    run.locks.clear();  // the host's lock goes before the next apply may start
    {
      std::lock_guard<std::mutex> lock(metrics_mutex_);
      ++applies_[ok ? "ok" : "failed"];
    }
    applying_ = false;
  }

  // Server-sent events: the log so far, then live lines until the apply ends.
  void Events(const std::string& id, httplib::Response& res) {
    if (!store_.Get(id)) return SendError(res, 404, "not_found", "no plan " + id);
    // Each stream holds a request thread until its apply ends: a few only.
    if (++event_streams_ > kMaxEventStreams) {
      --event_streams_;
      return SendError(res, 503, "busy", "too many event streams are open", true);
    }
    auto sent = std::make_shared<std::size_t>(0);
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, id, sent](std::size_t, httplib::DataSink& sink) {
          try {
            std::optional<PlanStore::Tail> tail =
                store_.WaitForLog(id, *sent, std::chrono::seconds(2));
            if (!tail) {
              sink.done();
              return true;
            }
            std::string out;
            for (const std::string& line : tail->lines)
              out += SseEvent("progress", {{"line", line}});
            *sent += tail->lines.size();
            const std::string status(PlanStatusName(tail->status));
            if (tail->status != PlanStatus::kApplying) {
              out += SseEvent("status", {{"status", status}});
              // `done` ends an apply (applied, failed or refused); a plan never applied has only
              // its status.
              if (tail->status != PlanStatus::kPlanned)
                out += SseEvent("done", {{"status", status}, {"apply", tail->apply}});
              if (!sink.write(out.data(), out.size())) return false;
              sink.done();
              return true;
            }
            if (out.empty()) out = ": waiting\n\n";  // keeps the stream alive, finds a gone client
            return sink.write(out.data(), out.size());
          } catch (const std::exception&) {
            return false;
          }
        },
        [this](bool) { --event_streams_; });
  }

  void Metrics(httplib::Response& res) {
    std::string out;
    out += "# HELP virtconverge_up Whether the server answers.\n# TYPE virtconverge_up gauge\n";
    out += "virtconverge_up 1\n";
    const DriftReport drift = drift_.Report();
    out +=
        "# HELP virtconverge_drift_resources Resources of a configured document that differ "
        "on a host, at the last drift pass.\n# TYPE virtconverge_drift_resources gauge\n";
    for (const DocumentDrift& d : drift.documents) {
      for (const auto& [host, n] : d.differ) {
        out += "virtconverge_drift_resources{document=\"" + Label(d.name) + "\",host=\"" +
               Label(host) + "\"} " + std::to_string(n) + "\n";
      }
    }
    out +=
        "# HELP virtconverge_drift_errors Whether a configured document could not be planned.\n"
        "# TYPE virtconverge_drift_errors gauge\n";
    for (const DocumentDrift& d : drift.documents)
      out += "virtconverge_drift_errors{document=\"" + Label(d.name) + "\"} " +
             (d.error.empty() ? "0" : "1") + "\n";
    out +=
        "# HELP virtconverge_drift_last_run_timestamp_seconds When the last drift pass ended.\n"
        "# TYPE virtconverge_drift_last_run_timestamp_seconds gauge\n";
    out += "virtconverge_drift_last_run_timestamp_seconds " +
           std::to_string(static_cast<long long>(drift.last_run_unix)) + "\n";
    out +=
        "# HELP virtconverge_apply_running Whether an apply runs now.\n# TYPE "
        "virtconverge_apply_running gauge\n";
    out += std::string("virtconverge_apply_running ") + (applying_ ? "1" : "0") + "\n";
    out +=
        "# HELP virtconverge_plans_stored Plans held for review.\n# TYPE virtconverge_plans_stored "
        "gauge\n";
    out += "virtconverge_plans_stored " + std::to_string(store_.Size()) + "\n";
    std::lock_guard<std::mutex> lock(metrics_mutex_);
    out +=
        "# HELP virtconverge_applies_total Applies ended, by result.\n# TYPE "
        "virtconverge_applies_total counter\n";
    for (const char* result : {"ok", "failed"})
      out += std::string("virtconverge_applies_total{result=\"") + result + "\"} " +
             std::to_string(applies_[result]) + "\n";
    out +=
        "# HELP virtconverge_http_requests_total Requests answered, by status code.\n"
        "# TYPE virtconverge_http_requests_total counter\n";
    for (const auto& [code, n] : requests_by_code_)
      out += "virtconverge_http_requests_total{code=\"" + std::to_string(code) + "\"} " +
             std::to_string(n) + "\n";
    res.set_content(out, "text/plain; version=0.0.4; charset=utf-8");
  }

  // A Prometheus label value: backslash, quote and newline escaped.
  static std::string Label(const std::string& value) {
    std::string out;
    for (char c : value) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    return EscapeInvalidUtf8(out);
  }

  const ServerConfig config_;
  httplib::Server& http_;
  PlanStore store_;
  DriftMonitor drift_;
  std::atomic<bool> applying_{false};
  std::atomic<int> event_streams_{0};
  std::mutex threads_mutex_;
  std::vector<std::thread> apply_threads_;
  std::mutex metrics_mutex_;
  std::map<int, long long> requests_by_code_;
  std::map<std::string, long long> applies_;
};

}  // namespace

int Server(const Args& args) {
  po::options_description options("server options");
  options.add_options()("help,h", "show this help")(
      "listen", po::value<std::string>()->default_value("127.0.0.1:8470"),
      "HOST:PORT to listen on; an address that is not loopback needs --tls-cert and --tls-key")(
      "token-file", po::value<std::string>(),
      "file whose first line is the bearer token every API request must carry (required; "
      "mode 600)")("tls-cert", po::value<std::string>(), "PEM certificate: serve HTTPS")(
      "tls-key", po::value<std::string>(), "PEM private key of --tls-cert")(
      "connection,c", po::value<std::string>(),
      "libvirt URI for documents that name none (default: $LIBVIRT_DEFAULT_URI, qemu:///system)")(
      "documents", po::value<std::vector<std::string>>(),
      "directory of documents the page can pick and drift is computed for (repeatable)")(
      "drift-interval", po::value<int>()->default_value(300),
      "seconds between drift passes over --documents (0: none)")(
      "max-body", po::value<std::size_t>()->default_value(kMaxDocumentBytes),
      "largest request body in bytes (larger: 413 before it is read)")(
      "plans", po::value<std::size_t>()->default_value(100), "plans kept for review")(
      "backup-dir", po::value<std::string>(),
      "enable POST /v1/backups, each backup directory a plain name under this directory");
  const char* usage =
      "usage: virtconverge server --token-file FILE [--listen 127.0.0.1:8470] [options]\n\n"
      "Serve the engine over HTTP: propose a document, review its plan (JSON, or the review page "
      "at /),\napprove and apply exactly that plan. Every API request needs 'Authorization: "
      "Bearer TOKEN'.\nSee docs/api.md; the OpenAPI description is at /v1/openapi.json.\n";
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(options).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n\n" << usage << options;
    return 1;
  }
  if (vm.count("help")) {
    std::cout << usage << options;
    return 0;
  }
  ServerConfig config;
  if (Status s = ParseListen(vm["listen"].as<std::string>(), &config); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  if (!vm.count("token-file")) {
    std::cerr << "error: --token-file is required: every request needs the bearer token it holds\n";
    return 1;
  }
  StatusOr<std::string> token = ReadToken(vm["token-file"].as<std::string>());
  if (!token.ok()) {
    std::cerr << "error: " << token.status().message() << "\n";
    return 1;
  }
  config.token = *token;
  if (vm.count("tls-cert") != vm.count("tls-key")) {
    std::cerr << "error: --tls-cert and --tls-key go together\n";
    return 1;
  }
  if (vm.count("tls-cert")) {
    config.tls_cert = vm["tls-cert"].as<std::string>();
    config.tls_key = vm["tls-key"].as<std::string>();
  }
  if (!IsLoopback(config.host) && config.tls_cert.empty()) {
    std::cerr << "error: --listen " << config.host
              << " is not a loopback address: the token would cross the network in clear; give "
                 "--tls-cert and --tls-key\n";
    return 1;
  }
  if (vm.count("connection")) config.connection = vm["connection"].as<std::string>();
  if (vm.count("documents")) config.documents = vm["documents"].as<std::vector<std::string>>();
  const int interval = vm["drift-interval"].as<int>();
  if (interval < 0 || interval > 86400) {
    std::cerr << "error: --drift-interval must be 0 to 86400 seconds\n";
    return 1;
  }
  config.drift_interval = std::chrono::seconds(interval);
  config.max_body = vm["max-body"].as<std::size_t>();
  config.plans = std::max<std::size_t>(1, vm["plans"].as<std::size_t>());
  if (vm.count("backup-dir")) {
    config.backup_dir = vm["backup-dir"].as<std::string>();
    if (config.backup_dir.empty() || config.backup_dir.front() != '/') {
      std::cerr << "error: --backup-dir must be an absolute path\n";
      return 1;
    }
  }

  // SIGINT and SIGTERM stop the server from a thread of its own (stop() is not signal-safe);
  // blocked before any thread starts, so they all inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<httplib::Server> http;
  if (!config.tls_cert.empty()) {
    http = std::make_unique<httplib::SSLServer>(config.tls_cert.c_str(), config.tls_key.c_str());
  } else {
    http = std::make_unique<httplib::Server>();
  }
  if (!http->is_valid()) {
    std::cerr << "error: cannot set up TLS with " << config.tls_cert << " and " << config.tls_key
              << "\n";
    return 1;
  }
  int status = 0;
  {
    ApiServer api(config, *http);
    api.Install();
    if (!http->bind_to_port(config.host, config.port)) {
      std::cerr << "error: cannot listen on " << config.host << ":" << config.port << "\n";
      return 1;
    }
    std::thread stopper([&] {
      int signal = 0;
      sigwait(&stop_signals, &signal);
      http->stop();
    });
    std::cerr << "server: listening on " << (config.tls_cert.empty() ? "http" : "https") << "://"
              << config.host << ":" << config.port << " (virtconverge " << kVersion << ")\n";
    if (!http->listen_after_bind()) status = 1;
    // listen ended by a signal or an error: wake the stopper if it still waits.
    pthread_kill(stopper.native_handle(), SIGTERM);
    stopper.join();
  }
  std::cerr << "server: stopped\n";
  return status;
}

}  // namespace vc::cli
