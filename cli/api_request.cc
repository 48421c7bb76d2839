#include "cli/api_request.h"

#include <algorithm>
#include <cctype>

#include "engine/json_reader.h"
#include "engine/names.h"

namespace vc::cli {
namespace {

Status BadField(const std::string& field, const std::string& what,
                ErrorCode code = ErrorCode::kInvalidValue) {
  return Status::InvalidArgument("request field " + field + ": " + what).WithErrorCode(code);
}

StatusOr<Json> JsonObject(std::string_view body, std::string_view content_type) {
  if (MediaType(content_type) != "application/json") {
    return Status::InvalidArgument("the body must be application/json, not '" +
                                   MediaType(content_type) + "'")
        .WithErrorCode(ErrorCode::kInvalidDocument);
  }
  StatusOr<Json> json = ReadStrictJson(body);
  if (!json.ok()) {
    return Status::InvalidArgument("the body is not JSON: " + json.status().message())
        .WithErrorCode(ErrorCode::kInvalidDocument);
  }
  if (!json->is_object()) {
    return Status::InvalidArgument("the body must be a JSON object")
        .WithErrorCode(ErrorCode::kInvalidDocument);
  }
  return json;
}

// Sets the allow flag `key` of `options` (true when it is one).
bool SetAllow(const std::string& key, bool value, PlanOptions* options) {
  if (key == "allow_destroy")
    options->allow_destroy = value;
  else if (key == "allow_restart")
    options->allow_restart = value;
  else if (key == "prune")
    options->prune = value;
  else if (key == "allow_overcommit")
    options->allow_overcommit = value;
  else
    return false;
  return true;
}

}  // namespace

std::string MediaType(std::string_view content_type) {
  std::string out;
  for (char c : content_type.substr(0, content_type.find(';'))) {
    if (c != ' ' && c != '\t')
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

StatusOr<PlanRequest> DecodePlanRequest(std::string_view body, std::string_view content_type) {
  const std::string media = MediaType(content_type);
  PlanRequest r;
  if (media == "application/yaml" || media == "text/yaml" || media == "application/x-yaml") {
    r.document = std::string(body);
    return r;
  }
  StatusOr<Json> json = JsonObject(body, content_type);
  if (!json.ok()) return json.status();
  for (const auto& [key, value] : json->items()) {
    if (key != "document" && key != "options")
      return BadField(key, "unknown (known: document, options)", ErrorCode::kUnknownField);
  }
  auto document = json->find("document");
  if (document == json->end()) return BadField("document", "is required");
  if (document->is_string()) {
    r.document = document->get<std::string>();
  } else if (document->is_object()) {
    r.document = document->dump();
  } else {
    return BadField("document", "must be an object or the document's text");
  }
  auto options = json->find("options");
  if (options == json->end() || options->is_null()) return r;
  if (!options->is_object()) return BadField("options", "must be an object");
  for (const auto& [key, value] : options->items()) {
    const std::string field = "options." + key;
    if (key == "shutdown_timeout") {
      if (!value.is_number_integer() || value < 0 || value > 86400)
        return BadField(field, "must be an integer from 0 to 86400 (seconds)");
      r.options.shutdown_timeout_seconds = value.get<int>();
      continue;
    }
    if (key != "skip_unreachable" && !SetAllow(key, false, &r.options))
      return BadField(field, "unknown option", ErrorCode::kUnknownField);
    if (!value.is_boolean()) return BadField(field, "must be true or false");
    if (key == "skip_unreachable") {
      r.options.skip_unreachable = value.get<bool>();
    } else {
      SetAllow(key, value.get<bool>(), &r.options);
    }
  }
  return r;
}

StatusOr<PlanOptions> DecodeApplyRequest(std::string_view body, std::string_view content_type) {
  PlanOptions allows;
  if (std::all_of(body.begin(), body.end(),
                  [](char c) { return std::isspace(static_cast<unsigned char>(c)); }))
    return allows;
  StatusOr<Json> json = JsonObject(body, content_type);
  if (!json.ok()) return json.status();
  for (const auto& [key, value] : json->items()) {
    if (!SetAllow(key, false, &allows)) {
      return BadField(key, "unknown (known: allow_destroy, allow_restart, prune, allow_overcommit)",
                      ErrorCode::kUnknownField);
    }
    if (!value.is_boolean()) return BadField(key, "must be true or false");
    SetAllow(key, value.get<bool>(), &allows);
  }
  return allows;
}

StatusOr<BackupApiRequest> DecodeBackupRequest(std::string_view body,
                                               std::string_view content_type) {
  StatusOr<Json> json = JsonObject(body, content_type);
  if (!json.ok()) return json.status();
  BackupApiRequest r;
  for (const auto& [key, value] : json->items()) {
    if (key == "domain" || key == "name") {
      if (!value.is_string()) return BadField(key, "must be a string");
      if (Status s = CheckName(value.get<std::string>()); !s.ok())
        return BadField(key, s.message());
      (key == "domain" ? r.domain : r.name) = value.get<std::string>();
    } else if (key == "incremental") {
      if (!value.is_boolean()) return BadField(key, "must be true or false");
      r.incremental = value.get<bool>();
    } else {
      return BadField(key, "unknown (known: domain, name, incremental)", ErrorCode::kUnknownField);
    }
  }
  if (r.domain.empty()) return BadField("domain", "is required");
  if (r.name.empty()) return BadField("name", "is required (the backup directory's name)");
  return r;
}

}  // namespace vc::cli
