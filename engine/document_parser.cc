#include "engine/document_parser.h"

#include <yaml-cpp/anchor.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "engine/cloud_init.h"
#include "engine/field_table.h"
#include "engine/json_reader.h"
#include "engine/names.h"
#include "engine/placement.h"
#include "engine/size.h"

namespace vc {
namespace {

std::vector<std::string_view> Names(const FieldTable& fields) {
  std::vector<std::string_view> out;
  for (const FieldSpec& f : fields) out.push_back(f.name);
  return out;
}

// The patterns below that bound no length are matched by hand: libstdc++'s std::regex matches
// recursively, a stack frame or more per character, and overflows the stack on a scalar of some
// 100 kB (a crash on untrusted input; found by fuzz/document_fuzzer.cc).

// [-+]?[0-9._]+|true|false|null|~ : a plain scalar that YAML or JSON reads as no string.
bool LooksLikeNumberOrNull(std::string_view s) {
  if (s == "true" || s == "false" || s == "null" || s == "~") return true;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return !s.empty() && s.find_first_not_of("0123456789._") == std::string_view::npos;
}

// (/[A-Za-z0-9_+-][A-Za-z0-9._+-]*)+ : an absolute path whose segments do not start with '.'.
bool IsAbsolutePath(std::string_view s) {
  auto word = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '+' || c == '-';
  };
  if (s.empty() || s[0] != '/') return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '/') {
      if (i + 1 == s.size() || !word(s[i + 1])) return false;
    } else if (!word(s[i]) && s[i] != '.') {
      return false;
    }
  }
  return true;
}

// Notes where each YAML document of a stream starts and whether it is empty (null).
class DocumentProbe : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    start = mark;
    first_event = true;
    empty = true;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark, true); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark, false); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Node(mark, false);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Node(mark, false);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Node(mark, false);
  }
  void OnMapEnd() override {}

  YAML::Mark start;
  YAML::Mark root;  // where the document's root node starts (YAML::Node::Mark)
  bool empty = true;

 private:
  void Node(const YAML::Mark& mark, bool null) {
    if (!first_event) return;
    first_event = false;
    root = mark;
    empty = null;
  }
  bool first_event = true;
};

// Where a second, non-empty document of the YAML stream `text` starts, if it has one. Not
// YAML::LoadAll: yaml-cpp 0.7 never returns from it on some malformed input (a ',' outside any
// flow collection starts an empty document that consumes nothing, again and again, until memory
// runs out). A document that starts where the previous one did is that case: malformed. Throws
// YAML::Exception on malformed input, as YAML::Load does.
std::optional<YAML::Mark> SecondDocument(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentProbe probe;
  std::optional<int> previous_start;
  for (int n = 0; parser.HandleNextDocument(probe); ++n) {
    if (previous_start == probe.start.pos)
      throw YAML::ParserException(probe.start, "unexpected character, starts no value");
    previous_start = probe.start.pos;
    if (n > 0 && !probe.empty) return probe.root;
  }
  return std::nullopt;
}

std::string Join(const std::vector<std::string_view>& words) {
  std::string out;
  for (std::string_view w : words) {
    if (!out.empty()) out += ", ";
    out += w;
  }
  return out;
}

class Parser {
 public:
  Parser(std::string source, Document* doc, Diagnostics* diags)
      : source_(std::move(source)), doc_(doc), diags_(diags) {}

  void Run(std::string_view text) {
    if (text.size() > kMaxDocumentBytes) {
      Error(YAML::Mark::null_mark(), "", "",
            "the document is " + std::to_string(text.size()) + " bytes; at most " +
                std::to_string(kMaxDocumentBytes) + " are read (split it into several files)",
            ErrorCode::kInvalidDocument);
      return;
    }
    if (LooksLikeJson(text)) {
      // JSON is read as JSON, strictly: YAML would accept comments, single quotes and
      // duplicate keys that a JSON producer never meant.
      StatusOr<Json> json = ReadStrictJson(text);
      if (!json.ok()) {
        Error(YAML::Mark::null_mark(), "", "", "malformed JSON: " + json.status().message(),
              ErrorCode::kInvalidDocument);
        return;
      }
    }
    YAML::Node root;
    try {
      const std::string owned(text);
      // A trailing '---' starts a document that carries nothing: only a non-empty one counts.
      // Always probed, though it is a second parse: yaml-cpp reads content after a flow-style
      // root as a later document without any marker.
      if (std::optional<YAML::Mark> second = SecondDocument(owned)) {
        Error(*second, "", "",
              "a second YAML document (after '---') is not read: give each document as a file of "
              "its own",
              ErrorCode::kInvalidDocument);
        return;
      }
      root = YAML::Load(owned);
    } catch (const YAML::Exception& e) {
      Error(e.mark, "", "", "malformed document: " + e.msg, ErrorCode::kInvalidDocument);
      return;
    }
    if (!root.IsMap()) {
      Error(root.Mark(), "", "", "a document must be a mapping with 'version: 1' at the top",
            ErrorCode::kInvalidDocument);
      return;
    }
    bool has_version = false;
    for (const auto& entry : Entries(root, "")) {
      const std::string& key = entry.first;
      const YAML::Node& value = entry.second;
      if (key == "version") {
        has_version = true;
        if (!IsPlain(value) || value.Scalar() != "1") {
          Error(value.Mark(), "", "version", "only version 1 is understood");
        }
      } else if (key == "connection") {
        if (!value.IsScalar() || value.Scalar().empty() ||
            (IsPlain(value) && LooksLikeNumberOrNull(value.Scalar()))) {
          Error(value.Mark(), "", "connection", "expected a libvirt URI string");
        } else if (!doc_->connection.empty() && doc_->connection != value.Scalar()) {
          Error(value.Mark(), "", "connection",
                "conflicts with connection '" + doc_->connection + "' given by another document",
                ErrorCode::kDuplicate);
        } else {
          doc_->connection = value.Scalar();
        }
      } else if (key == "ceph") {
        Json ceph;
        if (ParseObject(value, "ceph", ObjectFields("ceph"), {"conf"}, &ceph)) {
          if (!doc_->ceph.is_null() && doc_->ceph != ceph) {
            Error(value.Mark(), "", "ceph", "conflicts with the ceph section of another document",
                  ErrorCode::kDuplicate);
          } else {
            doc_->ceph = ceph;
          }
        }
      } else if (key == "hosts") {
        ParseHosts(value);
      } else if (std::optional<Kind> kind = SectionKind(key)) {
        ParseSection(*kind, value);
      } else {
        std::string hint = ClosestMatch(key, {"version", "connection", "ceph", "hosts", "pools",
                                              "networks", "volumes", "rbd_images", "domains"});
        Error(entry.second.Mark(), "", key,
              "unknown top-level field" + (hint.empty() ? "" : ", did you mean '" + hint + "'?"),
              ErrorCode::kUnknownField);
      }
    }
    if (!has_version)
      Error(root.Mark(), "", "version", "missing required field 'version: 1'",
            ErrorCode::kMissingField);
  }

 private:
  using Entry = std::pair<std::string, YAML::Node>;

  static std::optional<Kind> SectionKind(std::string_view key) {
    for (Kind kind : kAllKinds) {
      if (KindSection(kind) == key) return kind;
    }
    return std::nullopt;
  }

  // JSON when the file says so by its name or its first character says so by its content.
  bool LooksLikeJson(std::string_view text) const {
    if (source_.size() >= 5 && source_.compare(source_.size() - 5, 5, ".json") == 0) return true;
    std::size_t first = text.find_first_not_of(" \t\r\n");
    return first != std::string_view::npos && (text[first] == '{' || text[first] == '[');
  }

  // A plain scalar is unquoted: only those may be integers or booleans (as in JSON and YAML).
  static bool IsPlain(const YAML::Node& node) { return node.IsScalar() && node.Tag() == "?"; }

  // The entries of a mapping, reporting duplicate keys (yaml-cpp keeps both).
  std::vector<Entry> Entries(const YAML::Node& map, const std::string& path) {
    std::vector<Entry> out;
    std::set<std::string> seen;
    for (const auto& item : map) {
      if (!item.first.IsScalar()) {
        Error(item.first.Mark(), path, "", "keys must be plain strings",
              ErrorCode::kInvalidDocument);
        continue;
      }
      std::string key = item.first.Scalar();
      if (!seen.insert(key).second) {
        Error(item.first.Mark(), path, key, "declared twice in the same mapping",
              ErrorCode::kDuplicate);
        continue;
      }
      out.emplace_back(key, item.second);
    }
    return out;
  }

  // hosts: {name: {connection, maintenance, limits, ksm}}. Several documents may declare hosts; one
  // host is declared once.
  void ParseHosts(const YAML::Node& section) {
    if (!section.IsMap() || section.size() == 0) {
      Error(section.Mark(), "", "hosts", "expected a non-empty mapping of host name to host");
      return;
    }
    for (const auto& [name, body] : Entries(section, "hosts")) {
      if (Status valid = CheckName(name); !valid.ok()) {
        Error(body.Mark(), "hosts", Quote(name), valid.message());
        continue;
      }
      Json spec;
      if (!ParseObject(body, "hosts." + name, ObjectFields("host"), {"connection"}, &spec))
        continue;
      HostEntry entry{spec["connection"], spec.value("maintenance", false), spec};
      if (!doc_->hosts.emplace(name, entry).second) {
        Error(body.Mark(), "hosts", name, "declared twice (in another document)",
              ErrorCode::kDuplicate);
      }
    }
  }

  void ParseSection(Kind kind, const YAML::Node& section) {
    std::string section_name(KindSection(kind));
    if (!section.IsMap()) {
      Error(section.Mark(), "", section_name, "expected a mapping of name to resource");
      return;
    }
    for (const auto& [name, body] : Entries(section, section_name)) {
      Status valid =
          kind == Kind::kVolume || kind == Kind::kRbdImage ? CheckVolumeKey(name) : CheckName(name);
      if (!valid.ok()) {
        Error(body.Mark(), section_name, Quote(name), valid.message());
        continue;
      }
      ParseResource(Address{kind, name}, body);
    }
  }

  void ParseResource(const Address& address, const YAML::Node& body) {
    std::string path = std::string(KindSection(address.kind)) + "." + address.name;
    if (!body.IsMap()) {
      Error(body.Mark(), path, "", "expected a mapping of fields");
      return;
    }
    current_address_ = address.ToString();
    struct Clear {
      std::string* s;
      ~Clear() { s->clear(); }
    } clear{&current_address_};
    DesiredResource resource{address, false, Json::object(), source_};
    const auto& fields = FieldsOf(address.kind);
    std::size_t errors_before = ErrorCount();
    for (const auto& [key, value] : Entries(body, path)) {
      if (key == "ensure") {
        if (!IsPlain(value) && !value.IsScalar()) {
          Error(value.Mark(), path, key, "expected 'present' or 'absent'");
        } else if (value.Scalar() == "absent") {
          resource.absent = true;
        } else if (value.Scalar() != "present") {
          Error(value.Mark(), path, key,
                "expected 'present' or 'absent', got " + Quote(value.Scalar()));
        }
        continue;
      }
      const FieldSpec* field = Find(fields, key);
      if (field == nullptr) {
        std::vector<std::string_view> known = Names(fields);
        known.push_back("ensure");
        std::string hint = ClosestMatch(key, known);
        Error(value.Mark(), path, key,
              "unknown field" + (hint.empty() ? "; known fields: " + Join(known)
                                              : ", did you mean '" + hint + "'?"),
              ErrorCode::kUnknownField);
        continue;
      }
      Json parsed;
      if (ParseValue(*field, value, path + "." + key, &parsed)) resource.spec[key] = parsed;
    }
    if (ErrorCount() != errors_before) return;
    if (!resource.absent) CheckRequired(resource, body, path);
    if (ErrorCount() != errors_before) return;
    auto [it, inserted] = doc_->resources.emplace(address, resource);
    if (!inserted) {
      Error(body.Mark(), path, "", "declared twice: in " + it->second.source + " and in " + source_,
            ErrorCode::kDuplicate);
    }
  }

  void CheckRequired(const DesiredResource& r, const YAML::Node& body, const std::string& path) {
    auto require = [&](const char* field, const std::string& why) {
      if (!r.spec.contains(field))
        Error(body.Mark(), path, field, "missing required field" + why, ErrorCode::kMissingField);
    };
    // Only what every declaration needs, existing or not; what creating needs is the planner's
    // (engine/create_requirements.h): a document may declare just the fields it manages.
    if (r.address.kind == Kind::kNetwork) {
      require("mode", "");
      if (r.spec.value("mode", "") == "bridge")
        require("bridge", " (a bridge network names the host bridge)");
    }
  }

  static const FieldSpec* Find(const FieldTable& fields, std::string_view key) {
    for (const FieldSpec& f : fields) {
      if (f.name == key) return &f;
    }
    return nullptr;
  }

  // Parses one field value into its canonical JSON form. Reports and returns false on error.
  bool ParseValue(const FieldSpec& field, const YAML::Node& value, const std::string& path,
                  Json* out) {
    auto fail = [&](const std::string& message) {
      Error(value.Mark(), path, "", message);
      return false;
    };
    auto scalar_text = [&]() { return value.IsScalar() ? Quote(value.Scalar()) : "a collection"; };
    static const std::regex kInt("-?[0-9]+");
    static const std::regex kBridgeRe("[A-Za-z0-9][A-Za-z0-9_.-]{0,14}");
    static const std::regex kTargetRe("(vd|sd)[a-z]{1,2}");
    static const std::regex kMacRe("[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}");
    switch (field.type) {
      case FieldType::kBool: {
        // YAML 1.2 core schema booleans only: `yes`/`on` are strings there, as in the schema.
        if (IsPlain(value) && (value.Scalar() == "true" || value.Scalar() == "false")) {
          *out = value.Scalar() == "true";
        } else {
          return fail("expected true or false, got " + scalar_text());
        }
        return true;
      }
      case FieldType::kInt: {
        if (!IsPlain(value) || value.Scalar().size() > 6 ||
            !std::regex_match(value.Scalar(), kInt)) {
          return fail("expected an integer " + std::to_string(field.min) + "-" +
                      std::to_string(field.max) + ", got " + scalar_text());
        }
        int n = std::stoi(value.Scalar());
        if (n < field.min || n > field.max) {
          return fail("must be between " + std::to_string(field.min) + " and " +
                      std::to_string(field.max) + ", got " + std::to_string(n));
        }
        *out = n;
        return true;
      }
      case FieldType::kNumber: {
        static const std::regex kDecimal("[0-9]{1,4}(\\.[0-9]{1,6})?");
        if (!IsPlain(value) || !std::regex_match(value.Scalar(), kDecimal)) {
          return fail("expected a decimal number such as 4.0, got " + scalar_text());
        }
        double n = std::stod(value.Scalar());
        if (n <= 0 || n > field.max) {
          return fail("must be above 0 and at most " + std::to_string(field.max) + ", got " +
                      value.Scalar());
        }
        *out = n;
        return true;
      }
      case FieldType::kSize: {
        if (!value.IsScalar()) return fail("expected a size such as 2GiB, got a collection");
        StatusOr<std::uint64_t> bytes = ParseSize(value.Scalar());
        if (!bytes.ok()) return fail(bytes.status().message());
        *out = FormatSize(*bytes);
        return true;
      }
      case FieldType::kEnum: {
        if (value.IsScalar()) {
          for (const std::string& allowed : field.values) {
            if (value.Scalar() == allowed) {
              *out = allowed;
              return true;
            }
          }
        }
        return fail("expected one of " + Join({field.values.begin(), field.values.end()}) +
                    ", got " + scalar_text());
      }
      case FieldType::kUri:
        // A libvirt URI (or alias): a non-empty word; libvirt itself judges the rest.
        if (!value.IsScalar() || value.Scalar().empty() || value.Scalar().size() > 1024 ||
            value.Scalar().find_first_of(" \t\r\n") != std::string::npos ||
            (IsPlain(value) && LooksLikeNumberOrNull(value.Scalar()))) {
          return fail("expected a libvirt URI (one word, at most 1024 characters), got " +
                      scalar_text());
        }
        *out = value.Scalar();
        return true;
      case FieldType::kPath:
        if (!value.IsScalar() || !IsAbsolutePath(value.Scalar())) {
          return fail("expected an absolute path whose segments do not start with '.', got " +
                      scalar_text());
        }
        *out = value.Scalar();
        return true;
      case FieldType::kName:
      case FieldType::kVolumeKey: {
        if (!value.IsScalar()) return fail("expected a name, got a collection");
        Status s = field.type == FieldType::kName ? CheckName(value.Scalar())
                                                  : CheckVolumeKey(value.Scalar());
        if (!s.ok()) return fail(s.message());
        *out = value.Scalar();
        return true;
      }
      case FieldType::kBridge:
        if (!value.IsScalar() || !std::regex_match(value.Scalar(), kBridgeRe)) {
          return fail("expected an interface name of at most 15 characters, got " + scalar_text());
        }
        *out = value.Scalar();
        return true;
      case FieldType::kTarget:
        if (!value.IsScalar() || !std::regex_match(value.Scalar(), kTargetRe)) {
          return fail("expected a disk target such as vda or sdb, got " + scalar_text());
        }
        *out = value.Scalar();
        return true;
      case FieldType::kMac: {
        if (!value.IsScalar() || !std::regex_match(value.Scalar(), kMacRe)) {
          return fail("expected a MAC address such as 52:54:00:12:34:56, got " + scalar_text());
        }
        std::string mac = value.Scalar();
        for (char& c : mac) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        // The least significant bit of the first octet marks a group (multicast) address, which
        // no NIC may have; libvirt would refuse it only when the guest starts.
        if ((std::stoi(mac.substr(0, 2), nullptr, 16) & 1) != 0) {
          return fail("MAC " + mac +
                      " is a multicast address; a NIC needs a unicast one (the first octet even, "
                      "e.g. 52:54:00:..., a locally administered address)");
        }
        *out = mac;
        return true;
      }
      case FieldType::kCpuModel: {
        static const std::regex kModelRe("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
        if (!value.IsScalar() || !std::regex_match(value.Scalar(), kModelRe)) {
          return fail("expected a CPU model name such as Skylake-Client, got " + scalar_text());
        }
        *out = value.Scalar();
        return true;
      }
      case FieldType::kNameList:
      case FieldType::kEnumList: {
        if (!value.IsSequence()) return fail("expected a list");
        if (value.size() < static_cast<std::size_t>(field.min)) {
          return fail("expected at least " + std::to_string(field.min) + " item(s), got " +
                      std::to_string(value.size()));
        }
        std::set<std::string> items;
        for (std::size_t i = 0; i < value.size(); ++i) {
          const YAML::Node item = value[i];
          std::string where = path + "[" + std::to_string(i) + "]";
          if (!item.IsScalar()) {
            Error(item.Mark(), where, "", "expected a name");
            return false;
          }
          Status ok = field.type == FieldType::kNameList ? CheckName(item.Scalar()) : Status::Ok();
          if (field.type == FieldType::kEnumList &&
              std::find(field.values.begin(), field.values.end(), item.Scalar()) ==
                  field.values.end()) {
            ok = Status::InvalidArgument(
                "unknown " + field.name + " value " + Quote(item.Scalar()) +
                "; known: " + Join({field.values.begin(), field.values.end()}));
          }
          if (!ok.ok()) {
            Error(item.Mark(), where, "", ok.message());
            return false;
          }
          if (!items.insert(item.Scalar()).second) {
            Error(item.Mark(), where, "", Quote(item.Scalar()) + " is listed twice",
                  ErrorCode::kDuplicate);
            return false;
          }
        }
        *out = Json(std::vector<std::string>(items.begin(), items.end()));  // canonical: sorted
        return true;
      }
      case FieldType::kSnapshotSpec: {
        std::string text = value.IsScalar() ? value.Scalar() : "";
        std::size_t at = text.find('@');
        if (at == std::string::npos || !CheckVolumeKey(text.substr(0, at)).ok() ||
            !CheckName(text.substr(at + 1)).ok()) {
          return fail("expected <pool>/<image>@<snapshot>, got " + scalar_text());
        }
        *out = text;
        return true;
      }
      case FieldType::kCpu: {
        std::size_t errors_before = ErrorCount();
        if (!ParseObject(value, path, ObjectFields("cpu"), {"mode"}, out)) return false;
        if (out->value("mode", "") == "custom" && !out->contains("model")) {
          Error(value.Mark(), path, "model", "missing required field (mode custom names a model)",
                ErrorCode::kMissingField);
        }
        for (const char* sub : {"model", "require", "disable"}) {
          if (out->value("mode", "") != "custom" && out->contains(sub)) {
            Error(value.Mark(), path, sub, std::string("only mode custom takes a ") + sub);
          }
        }
        return ErrorCount() == errors_before;
      }
      case FieldType::kCloudInit:
        return ParseCloudInit(value, path, out);
      case FieldType::kKsm:
        if (!ParseObject(value, path, ObjectFields("ksm"), {}, out)) return false;
        if (out->empty()) return fail("expected at least one KSM setting");
        return true;
      case FieldType::kDisks: {
        if (!ParseList(value, path, ObjectFields("disk"), {"target"}, out)) return false;
        for (std::size_t i = 0; i < out->size(); ++i) {
          const Json& disk = (*out)[i];
          if (disk.contains("volume") == disk.contains("rbd")) {
            Error(value[i].Mark(), path + "[" + std::to_string(i) + "]", "volume",
                  "give exactly one of volume (a libvirt volume) or rbd (a Ceph RBD image)");
            return false;
          }
        }
        // Canonical order is by target, as observation reports them: order carries no meaning.
        std::stable_sort(out->begin(), out->end(), [](const Json& a, const Json& b) {
          return a.value("target", "") < b.value("target", "");
        });
        return true;
      }
      case FieldType::kInterfaces:
        return ParseList(value, path, ObjectFields("interface"), {"network"}, out);
    }
    return false;
  }

  // `node` with every collection in block style, so a seed's text reads (and diffs) by line.
  static YAML::Node BlockStyle(YAML::Node node) {
    if (node.IsMap() || node.IsSequence()) {
      node.SetStyle(YAML::EmitterStyle::Block);
      for (auto it = node.begin(); it != node.end(); ++it) {
        BlockStyle(node.IsMap() ? it->second : *it);
      }
    }
    return node;
  }

  // A seed's text: a mapping becomes the YAML text written into the seed (user-data with the
  // "#cloud-config" header cloud-init needs), a string is taken as it is.
  bool SeedText(const YAML::Node& value, const std::string& path, const char* header, Json* out) {
    constexpr std::size_t kMaxText = 65536;
    std::string text;
    if (value.IsMap()) {
      YAML::Emitter emitter;
      emitter << BlockStyle(YAML::Clone(value));
      if (!emitter.good()) {
        Error(value.Mark(), path, "",
              std::string("cannot be written as YAML: ") + emitter.GetLastError());
        return false;
      }
      text = std::string(header) + emitter.c_str() + "\n";
    } else if (value.IsScalar()) {
      text = value.Scalar();
    } else {
      Error(value.Mark(), path, "", "expected a mapping or a text");
      return false;
    }
    if (text.size() > kMaxText) {
      Error(value.Mark(), path, "", "longer than 65536 characters");
      return false;
    }
    *out = text;
    return true;
  }

  // cloud_init: {pool, user_data, meta_data: {instance_id, local_hostname?}, network_config?,
  //              bus?, on_change?},
  // canonical with user_data and network_config as the texts the seed holds.
  bool ParseCloudInit(const YAML::Node& value, const std::string& path, Json* out) {
    static const std::regex kHostname("[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?");
    if (!value.IsMap()) {
      Error(value.Mark(), path, "", "expected a mapping");
      return false;
    }
    const std::size_t errors_before = ErrorCount();
    const std::vector<std::string_view> known = {"pool",           "user_data", "meta_data",
                                                 "network_config", "bus",       "on_change"};
    *out = Json::object();
    for (const auto& [key, v] : Entries(value, path)) {
      const std::string where = path + "." + key;
      if (key == "pool") {
        Status ok =
            v.IsScalar() ? CheckName(v.Scalar()) : Status::InvalidArgument("expected a name");
        if (!ok.ok()) {
          Error(v.Mark(), where, "", ok.message());
          continue;
        }
        (*out)["pool"] = v.Scalar();
      } else if (key == "bus") {
        if (!v.IsScalar() ||
            (v.Scalar() != "sata" && v.Scalar() != "scsi" && v.Scalar() != "ide")) {
          Error(v.Mark(), where, "", "expected one of sata, scsi, ide");
          continue;
        }
        (*out)["bus"] = v.Scalar();
      } else if (key == "on_change") {
        if (!v.IsScalar() || (v.Scalar() != "restart" && v.Scalar() != "next_boot")) {
          Error(v.Mark(), where, "", "expected one of restart, next_boot");
          continue;
        }
        (*out)["on_change"] = v.Scalar();
      } else if (key == "user_data" || key == "network_config") {
        Json text;
        if (SeedText(v, where, key == "user_data" ? "#cloud-config\n" : "", &text)) {
          // A copy from a plan or from observe has its secrets redacted: applying it would
          // write "(redacted)" into the guest.
          if (LooksRedacted(text.get<std::string>())) {
            Error(v.Mark(), where, "",
                  "holds \"(redacted)\" where a secret was: a copy from a plan or observe; give "
                  "the real values");
            continue;
          }
          (*out)[key] = text;
        }
      } else if (key == "meta_data") {
        if (!v.IsMap()) {
          Error(v.Mark(), where, "", "expected a mapping");
          continue;
        }
        Json meta = Json::object();
        for (const auto& [mkey, mv] : Entries(v, where)) {
          const bool id = mkey == "instance_id";
          if (!id && mkey != "local_hostname") {
            Error(mv.Mark(), where, mkey,
                  "unknown field; known fields: instance_id, local_hostname",
                  ErrorCode::kUnknownField);
            continue;
          }
          if (!mv.IsScalar() || mv.Scalar().empty() || mv.Scalar().size() > 255 ||
              (!id && !std::regex_match(mv.Scalar(), kHostname))) {
            Error(mv.Mark(), where, mkey,
                  id ? "expected a text of 1-255 characters"
                     : "expected a hostname (letters, digits, '-' and '.')");
            continue;
          }
          meta[mkey] = mv.Scalar();
        }
        if (!meta.contains("instance_id") && ErrorCount() == errors_before) {
          Error(v.Mark(), where, "instance_id", "missing required field", ErrorCode::kMissingField);
        }
        (*out)["meta_data"] = meta;
      } else {
        std::string hint = ClosestMatch(key, known);
        Error(v.Mark(), path, key,
              "unknown field" + (hint.empty() ? "; known fields: " + Join(known)
                                              : ", did you mean '" + hint + "'?"),
              ErrorCode::kUnknownField);
      }
    }
    for (const char* required : {"pool", "user_data", "meta_data"}) {
      if (!out->contains(required) && ErrorCount() == errors_before) {
        Error(value.Mark(), path, required, "missing required field", ErrorCode::kMissingField);
      }
    }
    return ErrorCount() == errors_before;
  }

  bool ParseList(const YAML::Node& value, const std::string& path, const FieldTable& fields,
                 std::initializer_list<std::string_view> required, Json* out) {
    if (!value.IsSequence()) {
      Error(value.Mark(), path, "", "expected a list");
      return false;
    }
    bool ok = true;
    *out = Json::array();
    for (std::size_t i = 0; i < value.size(); ++i) {
      Json parsed;
      ok = ParseObject(value[i], path + "[" + std::to_string(i) + "]", fields, required, &parsed) &&
           ok;
      out->push_back(parsed);
    }
    return ok;
  }

  // A mapping of known fields (a disk, an interface, a cpu), `required` ones present.
  bool ParseObject(const YAML::Node& item, const std::string& path, const FieldTable& fields,
                   std::initializer_list<std::string_view> required, Json* out) {
    if (!item.IsMap()) {
      Error(item.Mark(), path, "", "expected a mapping");
      return false;
    }
    std::size_t errors_before = ErrorCount();
    *out = Json::object();
    for (const auto& [key, v] : Entries(item, path)) {
      const FieldSpec* field = Find(fields, key);
      if (field == nullptr) {
        std::string hint = ClosestMatch(key, Names(fields));
        Error(v.Mark(), path, key,
              "unknown field" + (hint.empty() ? "; known fields: " + Join(Names(fields))
                                              : ", did you mean '" + hint + "'?"),
              ErrorCode::kUnknownField);
        continue;
      }
      Json one;
      if (ParseValue(*field, v, path + "." + key, &one)) (*out)[key] = one;
    }
    for (std::string_view r : required) {
      if (!out->contains(r) && ErrorCount() == errors_before) {
        Error(item.Mark(), path, std::string(r), "missing required field",
              ErrorCode::kMissingField);
      }
    }
    return ErrorCount() == errors_before;
  }

  std::size_t ErrorCount() const { return diags_->size(); }

  void Error(const YAML::Mark& mark, const std::string& path, const std::string& field,
             const std::string& message, ErrorCode code = ErrorCode::kInvalidValue) {
    std::string where = source_;
    if (!mark.is_null()) {
      where += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    }
    std::string full_path = path;
    if (!field.empty()) full_path += (full_path.empty() ? "" : ".") + field;
    Diagnostic d;
    d.code = code;
    d.address = current_address_;
    d.summary = where + ": " + (full_path.empty() ? "" : full_path + ": ") + message;
    diags_->push_back(std::move(d));
  }

  std::string current_address_;  // the resource being parsed, for diagnostics
  std::string source_;
  Document* doc_;
  Diagnostics* diags_;
};

std::uint64_t SizeOf(const Json& canonical) { return *ParseSize(canonical.get<std::string>()); }

Diagnostic Problem(const DesiredResource& r, const std::string& field, const std::string& message,
                   ErrorCode code = ErrorCode::kInvalidValue, const std::string& related = "") {
  Diagnostic d;
  d.code = code;
  d.related = related;
  d.address = r.address.ToString();
  d.summary = r.source + ": " + std::string(KindSection(r.address.kind)) + "." + r.address.name +
              (field.empty() ? "" : "." + field) + ": " + message;
  return d;
}

}  // namespace

Diagnostics ParseDocument(std::string_view text, const std::string& source, Document* doc) {
  Document merged = *doc;
  Diagnostics diags;
  Parser(source, &merged, &diags).Run(text);
  if (!HasErrors(diags)) *doc = std::move(merged);
  return diags;
}

Diagnostics LoadDocuments(const std::vector<std::string>& paths, Document* doc) {
  Diagnostics diags;
  bool stdin_used = false;
  for (const std::string& path : paths) {
    std::string text;
    std::string source = path;
    if (path == "-") {
      if (stdin_used) {
        diags.push_back(
            ErrorDiagnostic(ErrorCode::kInvalidDocument, "", "'-' (standard input) given twice"));
        continue;
      }
      stdin_used = true;
      source = "<stdin>";
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        diags.push_back(
            ErrorDiagnostic(ErrorCode::kInvalidDocument, "", path + ": cannot read the file"));
        continue;
      }
      std::ostringstream buffer;
      buffer << in.rdbuf();
      text = buffer.str();
    }
    Diagnostics found = ParseDocument(text, source, doc);
    diags.insert(diags.end(), found.begin(), found.end());
  }
  if (!HasErrors(diags)) {
    Diagnostics limits = CheckLimits(*doc);
    diags.insert(diags.end(), limits.begin(), limits.end());
    Diagnostics placement = CheckPlacement(*doc);
    diags.insert(diags.end(), placement.begin(), placement.end());
  }
  return diags;
}

namespace {

// What needs a Ceph cluster needs the ceph: section; no host is needed to say so.
void CheckCephSection(const Document& doc, const DesiredResource& r, Diagnostics* diags) {
  if (!doc.ceph.is_null()) return;
  const Json& s = r.spec;
  if (r.address.kind == Kind::kRbdImage) {
    diags->push_back(Problem(r, "", "rbd_images need the ceph: section (conf, user) or --ceph-conf",
                             ErrorCode::kMissingReference));
  } else if (r.address.kind == Kind::kPool && s.value("type", "") == "rbd") {
    diags->push_back(Problem(r, "type", "an rbd pool needs the ceph: section (conf, user)",
                             ErrorCode::kMissingReference));
  } else if (r.address.kind == Kind::kDomain) {
    for (std::size_t i = 0; s.contains("disks") && i < s["disks"].size(); ++i) {
      if (s["disks"][i].contains("rbd")) {
        diags->push_back(Problem(r, "disks[" + std::to_string(i) + "].rbd",
                                 "an RBD disk needs the ceph: section (conf, user)",
                                 ErrorCode::kMissingReference));
      }
    }
  }
}

}  // namespace

Diagnostics CheckLimits(const Document& doc) {
  Diagnostics diags;
  for (const auto& [address, r] : doc.resources) {
    if (r.absent) continue;
    const Json& s = r.spec;
    if (address.kind == Kind::kDomain) {
      if (s.contains("max_vcpus") && s.contains("vcpus") && s["vcpus"] > s["max_vcpus"]) {
        diags.push_back(Problem(
            r, "vcpus",
            "vcpus " + s["vcpus"].dump() + " is more than max_vcpus " + s["max_vcpus"].dump()));
      }
      if (s.contains("max_memory") && s.contains("memory") &&
          SizeOf(s["memory"]) > SizeOf(s["max_memory"])) {
        diags.push_back(Problem(r, "memory",
                                "memory " + s["memory"].get<std::string>() +
                                    " is more than max_memory " +
                                    s["max_memory"].get<std::string>()));
      }
      std::set<std::string> targets;
      std::set<std::string> macs;
      for (std::size_t i = 0; s.contains("disks") && i < s["disks"].size(); ++i) {
        std::string target = s["disks"][i].value("target", "");
        if (!targets.insert(target).second) {
          diags.push_back(Problem(r, "disks[" + std::to_string(i) + "].target",
                                  "target " + target + " is used twice", ErrorCode::kDuplicate));
        }
      }
      for (std::size_t i = 0; s.contains("interfaces") && i < s["interfaces"].size(); ++i) {
        const Json& nic = s["interfaces"][i];
        if (nic.contains("mac") && !macs.insert(nic["mac"].get<std::string>()).second) {
          diags.push_back(Problem(r, "interfaces[" + std::to_string(i) + "].mac",
                                  "MAC " + nic["mac"].get<std::string>() + " is used twice",
                                  ErrorCode::kDuplicate));
        }
      }
    } else if (address.kind == Kind::kVolume) {
      if (s.contains("backing_volume") && s.value("format", "qcow2") != "qcow2") {
        diags.push_back(
            Problem(r, "format", "must be qcow2: only a qcow2 volume can have a backing_volume"));
      }
      if (s.contains("backing_volume") && s["backing_volume"] == address.name) {
        diags.push_back(Problem(r, "backing_volume", "a volume cannot back itself"));
      }
    }
  }
  return diags;
}

Diagnostics CheckNeedsCeph(const Document& doc) {
  Diagnostics diags;
  for (const auto& [address, r] : doc.resources) {
    if (!r.absent) CheckCephSection(doc, r, &diags);
  }
  return diags;
}

Diagnostics CheckReferences(const Document& doc, const ObservedState& observed) {
  Diagnostics diags = CheckNeedsCeph(doc);
  auto require = [&](const DesiredResource& r, const std::string& field, const Address& target) {
    auto it = doc.resources.find(target);
    bool declared = it != doc.resources.end() && !it->second.absent;
    if (!declared && observed.resources.count(target) == 0) {
      diags.push_back(Problem(r, field,
                              std::string(KindName(target.kind)) + " " + target.name +
                                  " is neither declared nor present on " +
                                  (target.host.empty() ? "the host" : target.host),
                              ErrorCode::kMissingReference, target.ToString()));
    }
  };
  for (const auto& [address, r] : doc.resources) {
    if (r.absent) continue;
    const Json& s = r.spec;
    if (address.kind == Kind::kDomain) {
      for (std::size_t i = 0; s.contains("disks") && i < s["disks"].size(); ++i) {
        const Json& disk = s["disks"][i];
        if (disk.contains("rbd")) {
          require(r, "disks[" + std::to_string(i) + "].rbd",
                  RefOn(Kind::kRbdImage, disk["rbd"], address.host));
        } else {
          require(r, "disks[" + std::to_string(i) + "].volume",
                  RefOn(Kind::kVolume, disk.value("volume", ""), address.host));
        }
      }
      for (std::size_t i = 0; s.contains("interfaces") && i < s["interfaces"].size(); ++i) {
        require(r, "interfaces[" + std::to_string(i) + "].network",
                RefOn(Kind::kNetwork, s["interfaces"][i].value("network", ""), address.host));
      }
    } else if (address.kind == Kind::kRbdImage) {
      if (s.contains("clone_from")) {
        std::string source = s["clone_from"];
        Address parent{Kind::kRbdImage, source.substr(0, source.find('@'))};
        std::string snapshot = source.substr(source.find('@') + 1);
        require(r, "clone_from", parent);
        // The snapshot must be declared on the parent or exist: a clone never creates one unseen.
        auto declared = doc.resources.find(parent);
        auto observed_parent = observed.resources.find(parent);
        bool known = false;
        for (const Json* list :
             {declared != doc.resources.end() ? &declared->second.spec : nullptr,
              observed_parent != observed.resources.end() ? &observed_parent->second.spec
                                                          : nullptr}) {
          if (list == nullptr) continue;
          for (const Json& name : list->value("snapshots", Json::array()))
            known = known || name == snapshot;
        }
        bool parent_exists =
            declared != doc.resources.end() || observed_parent != observed.resources.end();
        if (parent_exists && !known) {
          diags.push_back(Problem(r, "clone_from",
                                  "snapshot " + snapshot + " is neither declared in " +
                                      parent.name + "'s snapshots nor present",
                                  ErrorCode::kMissingReference,
                                  parent.ToString() + "@" + snapshot));
        }
      }
    } else if (address.kind == Kind::kVolume) {
      require(r, "pool",
              RefOn(Kind::kPool, address.name.substr(0, address.name.find('/')), address.host));
      if (s.contains("backing_volume")) {
        require(r, "backing_volume",
                RefOn(Kind::kVolume, s["backing_volume"].get<std::string>(), address.host));
      }
    }
  }
  return diags;
}

}  // namespace vc
