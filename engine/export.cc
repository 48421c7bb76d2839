#include "engine/export.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "engine/cloud_init.h"
#include "engine/diff.h"
#include "engine/domain_rules.h"
#include "engine/names.h"
#include "engine/plan_text.h"
#include "engine/size.h"

namespace vc {
namespace {

void Emit(YAML::Emitter& out, const Json& value) {
  switch (value.type()) {
    case Json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [key, v] : value.items()) {
        out << YAML::Key << key << YAML::Value;
        Emit(out, v);
      }
      out << YAML::EndMap;
      break;
    case Json::value_t::array:
      out << YAML::BeginSeq;
      for (const Json& v : value) Emit(out, v);
      out << YAML::EndSeq;
      break;
    case Json::value_t::string:
      out << YAML::DoubleQuoted << value.get<std::string>();
      break;
    case Json::value_t::boolean:
      out << YAML::TrueFalseBool << value.get<bool>();
      break;
    case Json::value_t::null:
      out << YAML::Null;
      break;
    default:
      out << value.dump();
      break;
  }
}

}  // namespace

std::string HostNote(const std::string& name, const Json& facts) {
  if (!facts.is_object()) return "host " + name + ": no node info";
  std::string note = fmt::format("host {}: {} CPUs, {} of memory", name, facts.value("cpus", 0),
                                 ApproximateSize(facts.value("memory", std::uint64_t{1})));
  if (facts.contains("free_memory"))
    note += ", " + ApproximateSize(facts["free_memory"].get<std::uint64_t>()) + " free";
  if (facts.contains("ksm")) {
    const Json& ksm = facts["ksm"];
    note += fmt::format("; KSM saves {} ({} guest pages merged into {} shared pages, {})",
                        ApproximateSize(ksm.value("saved_bytes", std::uint64_t{0})),
                        ksm.value("pages_sharing", 0), ksm.value("pages_shared", 0),
                        ApproximateSize(ksm.value("shared_bytes", std::uint64_t{0})));
  }
  return note;
}

namespace {

// Whether a document can declare `address` at all: libvirt holds names a document cannot
// (a file "my disk.img" in a dir pool, a snapshot overlay "root@s1"); writing them would make
// observe's output an invalid document.
Status Declarable(const Address& address) {
  if (address.kind == Kind::kVolume || address.kind == Kind::kRbdImage)
    return CheckVolumeKey(address.name);
  return CheckName(address.name);
}

}  // namespace

std::vector<std::string> UndeclarableNotes(const ObservedState& state) {
  std::vector<std::string> notes;
  for (const auto& [address, r] : state.resources) {
    if (address.kind == Kind::kHost) continue;
    if (Status s = Declarable(address); !s.ok()) {
      notes.push_back(std::string(KindName(address.kind)) + " " + Quote(address.name) +
                      " left out: a document cannot name it (" + s.message() + ")" +
                      (address.name.find('@') != std::string::npos
                           ? "; '<volume>@<snapshot>' files are snapshot overlays"
                           : ""));
    }
  }
  return notes;
}

Json ExportDocument(const ObservedState& state, const Json& ceph) {
  Json doc = {{"version", 1}};
  if (!state.connection.empty()) doc["connection"] = state.connection;
  if (ceph.is_object()) doc["ceph"] = ceph;
  for (Kind kind : kAllKinds) {
    if (kind != Kind::kRbdImage || ceph.is_object())
      doc[std::string(KindSection(kind))] = Json::object();
  }
  for (const auto& [address, r] : state.resources) {
    if (address.kind != Kind::kHost && Declarable(address).ok())
      doc[std::string(KindSection(address.kind))][address.name] = r.spec;
  }
  return RedactSecrets(doc);  // output: a seed's secrets never leave the engine
}

Json ExportFleetDocument(const ObservedState& state,
                         const std::map<std::string, std::string>& hosts, const Json& ceph,
                         std::vector<std::string>* notes) {
  Json doc = ExportDocument(ObservedState{}, ceph);
  for (const auto& [name, uri] : hosts) doc["hosts"][name] = {{"connection", uri}};
  // name → [(host, spec)] per kind, hosts in name order (the map's).
  std::map<Address, std::vector<std::pair<std::string, const Json*>>> by_name;
  for (const auto& [address, r] : state.resources) {
    if (address.kind == Kind::kHost) {
      if (hosts.count(address.name) == 0) continue;
      if (r.spec.contains("ksm")) doc["hosts"][address.name]["ksm"] = r.spec["ksm"];
      notes->push_back(HostNote(address.name, r.facts));
      continue;
    }
    if (!Declarable(address).ok()) continue;  // UndeclarableNotes says so
    by_name[Address{address.kind, address.name}].emplace_back(address.host, &r.spec);
  }
  for (const auto& [address, where] : by_name) {
    const std::string section(KindSection(address.kind));
    Json body = *where.front().second;
    std::vector<std::string> on;
    bool same = true;
    for (const auto& [host, spec] : where) {
      on.push_back(host);
      same = same && *spec == body;
    }
    std::string list;
    for (const std::string& h : on) list += (list.empty() ? "" : ", ") + h;
    switch (address.kind) {
      case Kind::kRbdImage:
      case Kind::kHost:
        break;
      case Kind::kPool:
      case Kind::kNetwork:
        if (!same) {
          notes->push_back(std::string(KindName(address.kind)) + " " + address.name +
                           " differs between " + list + ": written as " + on.front() +
                           " has it, for " + on.front() + " only");
          body["hosts"] = Json::array({on.front()});
        } else if (on.size() != hosts.size()) {
          body["hosts"] = on;
        }
        break;
      case Kind::kVolume:
      case Kind::kDomain:
        body["host"] = on.front();
        if (on.size() > 1) {
          notes->push_back(std::string(KindName(address.kind)) + " " + address.name + " is on " +
                           list + ": written for " + on.front() + " only");
        }
        break;
    }
    doc[section][address.name] = body;
  }
  return RedactSecrets(doc);
}

std::vector<Pending> PendingChanges(const ObservedState& state) {
  std::vector<Pending> pending;
  for (const auto& [address, r] : state.resources) {
    if (address.kind != Kind::kDomain || !r.live.is_object()) continue;
    for (const auto& [key, config] : r.spec.items()) {
      if (!HasComparableLiveValue(key)) continue;
      Json live = Project(r.live.value(key, Json()), config);
      if (live != config) pending.push_back({address, key, live, config});
    }
    if (std::optional<Pending> seed = SeedPending(r)) pending.push_back(*seed);
  }
  return pending;
}

std::vector<std::string> PendingNotes(const ObservedState& state) {
  std::vector<std::string> notes;
  for (const Pending& p : PendingChanges(state)) {
    notes.push_back(p.address.name + ": " + p.path + " pending restart (running " +
                    RenderValue(p.live) + ", next boot " + RenderValue(p.config) + ")");
  }
  return notes;
}

std::string ToYaml(const Json& document, const std::vector<std::string>& notes) {
  std::string header;
  for (const std::string& note : notes) header += "# " + note + "\n";
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const char* key : {"version", "connection", "ceph", "hosts", "pools", "networks", "volumes",
                          "rbd_images", "domains"}) {
    if (!document.contains(key)) continue;
    out << YAML::Key << key << YAML::Value;
    if (document[key].is_object() && document[key].empty()) {
      out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
    } else {
      Emit(out, document[key]);
    }
  }
  out << YAML::EndMap;
  return header + out.c_str() + "\n";
}

}  // namespace vc
