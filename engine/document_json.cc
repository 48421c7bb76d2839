#include "engine/document_json.h"

namespace vc {

Json DocumentToJson(const Document& doc) {
  Json out = {{"version", 1}};
  if (!doc.connection.empty()) out["connection"] = doc.connection;
  if (!doc.ceph.is_null()) out["ceph"] = doc.ceph;
  for (const auto& [name, host] : doc.hosts) out["hosts"][name] = host.spec;
  for (const auto& [address, resource] : doc.resources) {
    Json body = resource.spec;
    if (resource.absent) body["ensure"] = "absent";
    out[std::string(KindSection(address.kind))][address.name] = body;
  }
  return out;
}

}  // namespace vc
