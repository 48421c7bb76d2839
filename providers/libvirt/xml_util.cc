#include "providers/libvirt/xml_util.h"

#include <cctype>
#include <sstream>
#include <string_view>

namespace vc::libvirt {

pugi::xml_node Child(pugi::xml_node parent, const char* name) {
  pugi::xml_node child = parent.child(name);
  return child ? child : parent.append_child(name);
}

void SetAttribute(pugi::xml_node node, const char* name, const std::string& value) {
  pugi::xml_attribute a = node.attribute(name);
  if (!a) a = node.append_attribute(name);
  a.set_value(value.c_str());
}

std::optional<std::uint64_t> ReadMemory(pugi::xml_node node, const char* default_unit) {
  if (!node) return std::nullopt;
  std::string_view unit = node.attribute("unit").as_string(default_unit);
  std::uint64_t value = node.text().as_ullong(0);
  std::uint64_t factor = 0;
  if (unit == "b" || unit == "bytes" || unit == "B") factor = 1;
  if (unit == "KB") factor = 1000;
  if (unit == "k" || unit == "KiB" || unit == "K") factor = 1024;
  if (unit == "MB") factor = 1000 * 1000;
  if (unit == "M" || unit == "MiB") factor = 1024 * 1024;
  if (unit == "GB") factor = 1000ULL * 1000 * 1000;
  if (unit == "G" || unit == "GiB") factor = 1024ULL * 1024 * 1024;
  if (unit == "TB") factor = 1000ULL * 1000 * 1000 * 1000;
  if (unit == "T" || unit == "TiB") factor = 1024ULL * 1024 * 1024 * 1024;
  if (factor == 0) return std::nullopt;
  return value * factor;
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

void AddMark(pugi::xml_node owner) {
  pugi::xml_node metadata = Child(owner, "metadata");
  if (HasMark(owner)) return;
  pugi::xml_node mark = metadata.append_child("vc:managed");
  mark.append_attribute("xmlns:vc") = kMarkNamespace;
}

bool HasMark(pugi::xml_node owner) {
  for (pugi::xml_node child : owner.child("metadata").children()) {
    for (pugi::xml_attribute a : child.attributes()) {
      if (std::string_view(a.name()).starts_with("xmlns") &&
          std::string_view(a.value()) == kMarkNamespace) {
        return true;
      }
    }
  }
  return false;
}

std::string ToString(const pugi::xml_document& doc) {
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_default | pugi::format_no_declaration);
  return out.str();
}

}  // namespace vc::libvirt
