#include "providers/libvirt/network_xml.h"

#include <pugixml.hpp>

#include "providers/libvirt/xml_util.h"

namespace vc::libvirt {

StatusOr<Json> ReadNetworkXml(std::string_view xml, bool* managed) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) return Status::Internal("unreadable network XML");
  pugi::xml_node network = doc.child("network");
  Json spec = Json::object();
  pugi::xml_node forward = network.child("forward");
  std::string mode = forward ? forward.attribute("mode").as_string("nat") : "isolated";
  if (mode == "isolated" || mode == "nat" || mode == "route" || mode == "open" ||
      mode == "bridge") {
    spec["mode"] = mode;
  }
  std::string bridge = network.child("bridge").attribute("name").as_string();
  if (!bridge.empty()) spec["bridge"] = bridge;
  *managed = HasMark(network);
  return spec;
}

StatusOr<std::string> NewNetworkXml(const std::string& name, const Json& desired) {
  const std::string mode = desired.value("mode", "");
  if (mode != "isolated" && mode != "bridge") {
    return Status::Unsupported("network " + name +
                               ": only modes isolated and bridge can be created");
  }
  if (mode == "bridge" && !desired.contains("bridge")) {
    return Status::InvalidArgument("network " + name +
                                   ": mode bridge needs the host bridge to use");
  }
  pugi::xml_document doc;
  pugi::xml_node network = doc.append_child("network");
  network.append_child("name").text() = name.c_str();
  AddMark(network);
  if (mode == "bridge") {
    // Guests join an existing host bridge; libvirt neither creates nor configures it.
    network.append_child("forward").append_attribute("mode") = "bridge";
  }
  if (desired.contains("bridge")) {
    pugi::xml_node bridge = network.append_child("bridge");
    bridge.append_attribute("name") = desired["bridge"].get<std::string>().c_str();
  }
  // An isolated network is a bridge libvirt makes; without an address it serves no DNS either.
  if (mode == "isolated") network.append_child("dns").append_attribute("enable") = "no";
  return ToString(doc);
}

}  // namespace vc::libvirt
