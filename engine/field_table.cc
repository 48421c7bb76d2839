#include "engine/field_table.h"

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "engine/schemas.h"

namespace vc {
namespace {

using Schema = nlohmann::ordered_json;  // keeps the schema's field order

struct Tables {
  std::map<Kind, FieldTable> kinds;
  std::map<std::string, FieldTable, std::less<>> objects;
};

// The schema is part of the program, not input: a field it declares that the engine has no
// reader for is a build defect, reported once and fatal, and caught by the unit tests.
[[noreturn]] void Defect(const std::string& what) {
  std::fprintf(stderr, "virtconverge: the compiled-in desired-state schema: %s\n", what.c_str());
  std::abort();
}

std::string RefName(const Schema& node) {
  const std::string ref = node.value("$ref", "");
  const std::string prefix = "#/$defs/";
  return ref.rfind(prefix, 0) == 0 ? ref.substr(prefix.size()) : "";
}

std::optional<FieldType> NamedReader(const std::string& name) {
  static const std::map<std::string, FieldType, std::less<>> kReaders = {
      {"bridge", FieldType::kBridge},
      {"target", FieldType::kTarget},
      {"mac", FieldType::kMac},
      {"cpu_model", FieldType::kCpuModel},
      {"snapshot_spec", FieldType::kSnapshotSpec},
      {"size", FieldType::kSize},
      {"name", FieldType::kName},
      {"volume_address", FieldType::kVolumeKey},
      {"absolute_path", FieldType::kPath},
      {"cpu", FieldType::kCpu},
      {"ksm", FieldType::kKsm},
      {"cloud_init", FieldType::kCloudInit},
      {"uri", FieldType::kUri},
  };
  auto it = kReaders.find(name);
  if (it == kReaders.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Strings(const Schema& list) {
  std::vector<std::string> out;
  for (const Schema& v : list) out.push_back(v.get<std::string>());
  return out;
}

std::optional<ChangeClass> ParseChange(const std::string& text) {
  static const std::map<std::string, ChangeClass, std::less<>> kClasses = {
      {"none", ChangeClass::kNone},       {"live", ChangeClass::kLive},
      {"restart", ChangeClass::kRestart}, {"replace", ChangeClass::kReplace},
      {"resize", ChangeClass::kResize},   {"state", ChangeClass::kState},
      {"policy", ChangeClass::kPolicy},   {"placement", ChangeClass::kPlacement},
  };
  auto it = kClasses.find(text);
  if (it == kClasses.end()) return std::nullopt;
  return it->second;
}

FieldSpec ReadField(const std::string& where, const std::string& name, const Schema& node) {
  FieldSpec f;
  f.name = name;
  std::optional<FieldType> type;
  if (node.contains("x-type")) {
    type = NamedReader(node["x-type"].get<std::string>());
  } else if (!RefName(node).empty()) {
    type = NamedReader(RefName(node));
  } else if (node.contains("enum")) {
    type = FieldType::kEnum;
    f.values = Strings(node["enum"]);
  } else if (node.value("type", "") == "boolean") {
    type = FieldType::kBool;
  } else if (node.value("type", "") == "number") {
    type = FieldType::kNumber;
    f.max = node.value("maximum", std::numeric_limits<int>::max());
  } else if (node.value("type", "") == "integer") {
    type = FieldType::kInt;
    // Unbounded where the schema says nothing (the reader still caps the digits).
    f.min = node.value("minimum", std::numeric_limits<int>::min());
    f.max = node.value("maximum", std::numeric_limits<int>::max());
  } else if (node.value("type", "") == "array" && node.contains("items")) {
    const Schema& items = node["items"];
    const std::string item = RefName(items);
    f.min = node.value("minItems", 0);  // kNameList, kEnumList
    if (item == "disk") type = FieldType::kDisks;
    if (item == "interface") type = FieldType::kInterfaces;
    if (item == "name") type = FieldType::kNameList;
    if (items.contains("enum")) {
      type = FieldType::kEnumList;
      f.values = Strings(items["enum"]);
    }
  }
  if (!type) Defect(where + "." + name + ": no reader for its type (give x-type)");
  f.type = *type;
  if (node.contains("x-change")) {
    std::optional<ChangeClass> change = ParseChange(node["x-change"].get<std::string>());
    if (!change) Defect(where + "." + name + ": unknown x-change");
    f.change = *change;
  }
  f.compared_running = node.value("x-compared-with", "") == "running";
  f.reason = node.value("x-reason", "");
  return f;
}

FieldTable ReadObject(const Schema& defs, const std::string& definition, bool is_kind) {
  if (!defs.contains(definition) || !defs[definition].contains("properties")) {
    Defect("no $defs/" + definition + " with properties");
  }
  FieldTable table;
  const Schema& properties = defs[definition]["properties"];
  for (const auto& [name, node] : properties.items()) {
    if (name == "ensure") continue;
    if (is_kind && !node.contains("x-change")) Defect(definition + "." + name + ": no x-change");
    table.push_back(ReadField(definition, name, node));
  }
  return table;
}

const Tables& Read() {
  static const Tables tables = [] {
    Schema schema = Schema::parse(DesiredStateSchema(), nullptr, false);
    if (schema.is_discarded() || !schema.contains("$defs")) Defect("not JSON with $defs");
    const Schema& defs = schema["$defs"];
    Tables t;
    for (Kind kind : kAllKinds) t.kinds[kind] = ReadObject(defs, std::string(KindName(kind)), true);
    t.kinds[Kind::kHost] = ReadObject(defs, "host", true);
    for (const char* object : {"disk", "interface", "cpu", "ceph", "host", "ksm"}) {
      t.objects[object] = ReadObject(defs, object, false);
    }
    return t;
  }();
  return tables;
}

}  // namespace

const FieldTable& FieldsOf(Kind kind) { return Read().kinds.at(kind); }

const FieldTable& ObjectFields(std::string_view definition) {
  auto it = Read().objects.find(definition);
  if (it == Read().objects.end()) Defect("no sub-object " + std::string(definition));
  return it->second;
}

const FieldSpec* FindField(Kind kind, std::string_view name) {
  for (const FieldSpec& f : FieldsOf(kind)) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool HasChangeClass(Kind kind, std::string_view name, ChangeClass change) {
  const FieldSpec* f = FindField(kind, name);
  return f != nullptr && f->change == change;
}

}  // namespace vc
