// Small pugixml helpers shared by the domain, storage and network XML code.
#pragma once

#include <cstdint>
#include <optional>
#include <pugixml.hpp>
#include <string>

namespace vc::libvirt {

/// The first child named `name`, appended when there is none.
pugi::xml_node Child(pugi::xml_node parent, const char* name);

/// Sets (or adds) an attribute.
void SetAttribute(pugi::xml_node node, const char* name, const std::string& value);

/// A libvirt size element (<memory unit='KiB'>262144</memory>, <capacity unit='bytes'>) in
/// bytes; nullopt when the element is missing or unreadable. The unit defaults to `default_unit`.
std::optional<std::uint64_t> ReadMemory(pugi::xml_node node, const char* default_unit = "KiB");

std::string Lower(std::string text);

/// The XML namespace of virtconverge's ownership mark in domain and network <metadata>.
inline constexpr const char* kMarkNamespace = "https://virtconverge.dev/xmlns/mark/1";

/// Adds <vc:managed xmlns:vc="kMarkNamespace"/> to the <metadata> child of `owner` (domain or
/// network), creating <metadata> when needed.
void AddMark(pugi::xml_node owner);

/// True when the <metadata> child of `owner` holds an element in kMarkNamespace.
bool HasMark(pugi::xml_node owner);

/// The document serialised without the XML declaration.
std::string ToString(const pugi::xml_document& doc);

}  // namespace vc::libvirt
