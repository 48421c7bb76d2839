#include "providers/libvirt/storage_xml.h"

#include <cstdio>
#include <pugixml.hpp>

#include "engine/size.h"
#include "providers/libvirt/xml_util.h"

namespace vc::libvirt {

StatusOr<Json> ReadPoolXml(std::string_view xml, std::string* uuid) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) return Status::Internal("unreadable pool XML");
  pugi::xml_node pool = doc.child("pool");
  *uuid = pool.child("uuid").text().as_string();
  std::string type = pool.attribute("type").as_string();
  Json spec = Json::object();
  if (type == "dir") {
    spec["type"] = "dir";
    spec["path"] = pool.child("target").child("path").text().as_string();
  } else if (type == "logical") {
    spec["type"] = "logical";
    spec["volume_group"] = pool.child("source").child("name").text().as_string();
  } else if (type == "rbd") {
    spec["type"] = "rbd";
    spec["ceph_pool"] = pool.child("source").child("name").text().as_string();
  }
  return spec;
}

std::string NewPoolXml(const std::string& name, const Json& desired, const std::string& uuid,
                       const RbdPoolSource* rbd) {
  pugi::xml_document doc;
  pugi::xml_node pool = doc.append_child("pool");
  std::string type = desired.at("type");
  pool.append_attribute("type") = type.c_str();
  pool.append_child("name").text() = name.c_str();
  pool.append_child("uuid").text() = uuid.c_str();
  if (type == "rbd") {
    pugi::xml_node source = pool.append_child("source");
    source.append_child("name").text() = desired.at("ceph_pool").get<std::string>().c_str();
    for (const auto& [host, port] : rbd->monitors) {
      pugi::xml_node h = source.append_child("host");
      h.append_attribute("name") = host.c_str();
      h.append_attribute("port") = std::to_string(port).c_str();
    }
    pugi::xml_node auth = source.append_child("auth");
    auth.append_attribute("type") = "ceph";
    auth.append_attribute("username") = rbd->user.c_str();
    auth.append_child("secret").append_attribute("uuid") = rbd->secret_uuid.c_str();
    return ToString(doc);
  }
  pugi::xml_node target = pool.append_child("target");
  if (type == "dir") {
    target.append_child("path").text() = desired.at("path").get<std::string>().c_str();
    pugi::xml_node permissions = target.append_child("permissions");
    permissions.append_child("mode").text() = "0755";  // QEMU's user must reach the images
  } else {
    std::string vg = desired.at("volume_group");
    pugi::xml_node source = pool.append_child("source");
    source.append_child("name").text() = vg.c_str();
    source.append_child("format").append_attribute("type") = "lvm2";
    target.append_child("path").text() = ("/dev/" + vg).c_str();
  }
  return ToString(doc);
}

StatusOr<VolumeXmlFields> ReadVolumeXml(std::string_view xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) return Status::Internal("unreadable volume XML");
  pugi::xml_node volume = doc.child("volume");
  VolumeXmlFields out;
  out.spec = Json::object();
  std::string format = volume.child("target").child("format").attribute("type").as_string();
  if (format == "qcow2" || format == "raw") out.spec["format"] = format;
  if (std::optional<std::uint64_t> capacity = ReadMemory(volume.child("capacity"), "bytes");
      capacity && *capacity > 0) {
    out.spec["capacity"] = FormatSize(*capacity);
  }
  out.backing_path = volume.child("backingStore").child("path").text().as_string();
  return out;
}

std::string NewVolumeXml(const std::string& name, const Json& desired,
                         const std::string& backing_path, const std::string& backing_format,
                         bool fully_allocated) {
  pugi::xml_document doc;
  pugi::xml_node volume = doc.append_child("volume");
  volume.append_child("name").text() = name.c_str();
  if (desired.contains("capacity")) {
    pugi::xml_node capacity = volume.append_child("capacity");
    capacity.append_attribute("unit") = "bytes";
    capacity.text() =
        std::to_string(ParseSize(desired["capacity"].get<std::string>()).value()).c_str();
  }
  pugi::xml_node allocation = volume.append_child("allocation");
  allocation.append_attribute("unit") = "bytes";
  allocation.text() =
      fully_allocated && desired.contains("capacity")
          ? std::to_string(ParseSize(desired["capacity"].get<std::string>()).value()).c_str()
          : "0";
  pugi::xml_node target = volume.append_child("target");
  const std::string format = desired.value("format", "qcow2");
  target.append_child("format").append_attribute("type") = format.c_str();
  // qcow2 v3: libvirt's default is v2 (0.10), which cannot hold the dirty bitmap a backup
  // checkpoint needs (docs/backup.md).
  if (format == "qcow2") target.append_child("compat").text() = "1.1";
  target.append_child("permissions").append_child("mode").text() = "0644";
  if (!backing_path.empty()) {
    pugi::xml_node backing = volume.append_child("backingStore");
    backing.append_child("path").text() = backing_path.c_str();
    backing.append_child("format").append_attribute("type") = backing_format.c_str();
  }
  return ToString(doc);
}

std::string OwnershipUuid(std::string_view kind, std::string_view name) {
  // Two FNV-1a passes with different offsets give 128 bits; the version nibble says "8"
  // (RFC 9562 custom), so it can never collide with a random (version 4) UUID libvirt generates.
  auto fnv = [&](std::uint64_t hash) {
    for (std::string_view part : {std::string_view("virtconverge"), kind, name}) {
      for (unsigned char c : part) {
        hash ^= c;
        hash *= 0x100000001b3ULL;
      }
      hash ^= 0xff;
      hash *= 0x100000001b3ULL;
    }
    return hash;
  };
  std::uint64_t hi = fnv(0xcbf29ce484222325ULL);
  std::uint64_t lo = fnv(0x84222325cbf29ce4ULL);
  hi = (hi & ~0xF000ULL) | 0x8000ULL;              // version 8
  lo = (lo & ~(0xC0ULL << 56)) | (0x80ULL << 56);  // RFC 4122 variant
  char text[37];
  std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return text;
}

}  // namespace vc::libvirt

namespace vc::libvirt {

std::string CephSecretXml(const std::string& uuid, const std::string& user) {
  pugi::xml_document doc;
  pugi::xml_node secret = doc.append_child("secret");
  secret.append_attribute("ephemeral") = "no";
  secret.append_attribute("private") = "yes";  // libvirt never hands the value back out
  secret.append_child("uuid").text() = uuid.c_str();
  secret.append_child("description").text() = ("virtconverge: cephx key of client." + user).c_str();
  pugi::xml_node usage = secret.append_child("usage");
  usage.append_attribute("type") = "ceph";
  usage.append_child("name").text() = ("client." + user + " virtconverge").c_str();
  return ToString(doc);
}

}  // namespace vc::libvirt
