#include "cli/serve_request.h"

namespace vc::cli {
namespace {

Status BadField(const std::string& field, const std::string& what) {
  return Status::InvalidArgument("request field " + field + ": " + what)
      .WithErrorCode(ErrorCode::kInvalidValue);
}

}  // namespace

StatusOr<Request> DecodeRequest(const Json& json) {
  Request r;
  auto id = json.find("id");
  if (id != json.end()) {
    if (!(id->is_number_integer() || id->is_string() || id->is_null()))
      return BadField("id", "must be an integer or a string");
    r.id = *id;
  }
  for (const auto& [key, value] : json.items()) {
    if (key != "id" && key != "command" && key != "document" && key != "options" &&
        key != "backup") {
      return BadField(key, "unknown (known: id, command, document, options, backup)")
          .WithErrorCode(ErrorCode::kUnknownField);
    }
  }
  auto command = json.find("command");
  if (command == json.end() || !command->is_string())
    return BadField("command", "must be a string");
  r.command = command->get<std::string>();
  if (r.command != "version" && r.command != "validate" && r.command != "plan" &&
      r.command != "apply" && r.command != "observe" && r.command != "backup") {
    return BadField("command", "unknown command (validate, plan, apply, observe, backup, version)");
  }
  auto backup = json.find("backup");
  if (r.command == "backup") {
    if (backup == json.end() || !backup->is_object())
      return BadField("backup", "must be an object {\"domain\", \"to\", \"incremental\"?}");
    for (const auto& [key, value] : backup->items()) {
      const std::string field = "backup." + key;
      if (key == "domain" || key == "to") {
        if (!value.is_string() || value.get<std::string>().empty())
          return BadField(field, "must be a non-empty string");
        (key == "domain" ? r.backup.domain : r.backup.dir) = value.get<std::string>();
      } else if (key == "incremental") {
        if (!value.is_boolean()) return BadField(field, "must be true or false");
        r.backup.incremental = value.get<bool>();
      } else if (key == "timeout") {
        if (!value.is_number_integer() || value < 1 || value > 604800)
          return BadField(field, "must be an integer from 1 to 604800 (seconds)");
        r.backup.timeout_seconds = value.get<int>();
      } else {
        return BadField(field, "unknown (known: domain, to, incremental, timeout)")
            .WithErrorCode(ErrorCode::kUnknownField);
      }
    }
    if (r.backup.domain.empty()) return BadField("backup.domain", "is required");
    if (r.backup.dir.empty() || r.backup.dir.front() != '/')
      return BadField("backup.to", "is required, an absolute path");
  } else if (backup != json.end()) {
    return BadField("backup", "not taken by " + r.command);
  }
  const bool takes_document =
      r.command == "validate" || r.command == "plan" || r.command == "apply";
  auto document = json.find("document");
  if (takes_document) {
    if (document == json.end() || !document->is_object())
      return BadField("document", "must be an object");
    r.document = *document;
  } else if (document != json.end()) {
    return BadField("document", "not taken by " + r.command);
  }
  auto options = json.find("options");
  if (options == json.end()) return r;
  if (!options->is_object()) return BadField("options", "must be an object");
  for (const auto& [key, value] : options->items()) {
    const std::string field = "options." + key;
    if (key == "connection") {
      if (!value.is_string()) return BadField(field, "must be a string");
      r.connection = value.get<std::string>();
    } else if (key == "ceph") {
      if (!value.is_object())
        return BadField(field, "must be an object {\"conf\": PATH, \"user\": NAME}");
      for (const auto& [k, v] : value.items()) {
        if ((k != "conf" && k != "user") || !v.is_string())
          return BadField(field + "." + k, "must be conf or user, a string");
      }
      if (!value.contains("conf")) return BadField(field + ".conf", "is required");
      r.ceph = value;
    } else if (key == "allow_destroy" || key == "allow_restart" || key == "prune" ||
               key == "skip_unreachable" || key == "allow_overcommit" || key == "text") {
      if (!value.is_boolean()) return BadField(field, "must be true or false");
      bool b = value.get<bool>();
      if (key == "allow_destroy") r.plan_options.allow_destroy = b;
      if (key == "allow_restart") r.plan_options.allow_restart = b;
      if (key == "prune") r.plan_options.prune = b;
      if (key == "skip_unreachable") r.plan_options.skip_unreachable = b;
      if (key == "allow_overcommit") r.plan_options.allow_overcommit = b;
      if (key == "text") r.text = b;
    } else if (key == "parallelism") {
      if (!value.is_number_integer() || value < 1 || value > 64)
        return BadField(field, "must be an integer from 1 to 64");
      r.parallelism = value.get<int>();
    } else if (key == "lock_wait") {
      if (!value.is_number_integer() || value < 0 || value > 86400) {
        return BadField(field, "must be an integer from 0 to 86400 (seconds)");
      }
      r.lock_wait_seconds = value.get<int>();
    } else if (key == "shutdown_timeout") {
      if (!value.is_number_integer() || value < 0 || value > 86400) {
        return BadField(field, "must be an integer from 0 to 86400 (seconds)");
      }
      r.plan_options.shutdown_timeout_seconds = value.get<int>();
    } else {
      return BadField(field, "unknown option").WithErrorCode(ErrorCode::kUnknownField);
    }
  }
  return r;
}

}  // namespace vc::cli
