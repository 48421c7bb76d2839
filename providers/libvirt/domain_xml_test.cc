#include "providers/libvirt/domain_xml.h"

#include <gtest/gtest.h>

namespace vc::libvirt {
namespace {

DomainXmlContext Context() {
  return {"kvm", [](const std::string&) -> StatusOr<std::string> { return std::string("qcow2"); },
          [](const std::string& path) -> std::optional<std::string> {
            if (path == "/img/root.qcow2") return std::string("img/root.qcow2");
            return std::nullopt;
          },
          std::nullopt};
}

constexpr const char* kHandWritten = R"(<domain type='kvm'>
  <name>hand</name>
  <uuid>1b4e28ba-2fa1-11d2-883f-0016d3cca427</uuid>
  <memory unit='MiB'>1024</memory>
  <currentMemory unit='MiB'>512</currentMemory>
  <vcpu placement='static' current='2'>4</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/img/root.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>
    </disk>
    <disk type='file' device='cdrom'><target dev='sda' bus='sata'/></disk>
    <interface type='network'>
      <mac address='52:54:00:AB:CD:EF'/>
      <source network='lan'/>
      <model type='virtio'/>
    </interface>
    <interface type='user'><mac address='52:54:00:00:00:09'/></interface>
    <controller type='usb' model='piix3-uhci'/>
  </devices>
</domain>)";

TEST(DomainXmlTest, ReadsOnlyWhatADocumentCanDeclare) {
  bool managed = true;
  StatusOr<Json> spec = ReadDomainXml(kHandWritten, Context().volume_by_path, &managed);
  ASSERT_TRUE(spec.ok());
  EXPECT_FALSE(managed);
  EXPECT_EQ((*spec)["vcpus"], 2);
  EXPECT_EQ((*spec)["max_vcpus"], 4);
  EXPECT_EQ((*spec)["memory"], "512MiB");
  EXPECT_EQ((*spec)["max_memory"], "1GiB");
  EXPECT_EQ((*spec)["virt_type"], "kvm");
  EXPECT_EQ(
      (*spec)["disks"],
      Json::parse(
          R"([{"volume":"img/root.qcow2","target":"vda","bus":"virtio","discard":"ignore"}])"));
  EXPECT_EQ((*spec)["interfaces"],
            Json::parse(R"([{"network":"lan","mac":"52:54:00:ab:cd:ef","model":"virtio"}])"));
}

TEST(DomainXmlTest, MergeChangesOnlyDeclaredPartsAndKeepsWhatLibvirtFilledIn) {
  Json desired = Json::parse(R"({"vcpus": 3, "memory": "768MiB",
    "disks": [{"volume": "img/root.qcow2", "target": "vda"}, {"volume": "img/data", "target": "vdb"}],
    "interfaces": [{"network": "lan"}, {"network": "backend"}]})");
  StatusOr<std::string> merged = MergeDomainXml(kHandWritten, desired, Context());
  ASSERT_TRUE(merged.ok()) << merged.status().message();
  const std::string& xml = *merged;
  EXPECT_NE(xml.find("1b4e28ba-2fa1-11d2-883f-0016d3cca427"), std::string::npos);
  EXPECT_NE(xml.find("slot=\"0x07\""), std::string::npos) << "the kept disk keeps its PCI address";
  EXPECT_NE(xml.find("52:54:00:AB:CD:EF"), std::string::npos) << "the kept NIC keeps its MAC";
  EXPECT_NE(xml.find("piix3-uhci"), std::string::npos);
  EXPECT_NE(xml.find("device=\"cdrom\""), std::string::npos) << "undeclared devices stay";
  EXPECT_NE(xml.find("type=\"user\""), std::string::npos);
  EXPECT_NE(xml.find("<source pool=\"img\" volume=\"data\""), std::string::npos);
  EXPECT_NE(xml.find("discard=\"unmap\""), std::string::npos);
  EXPECT_NE(xml.find("<source network=\"backend\""), std::string::npos);
  bool managed = false;
  StatusOr<Json> back = ReadDomainXml(xml, Context().volume_by_path, &managed);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)["vcpus"], 3);
  EXPECT_EQ((*back)["max_vcpus"], 4);
  EXPECT_EQ((*back)["memory"], "768MiB");
  EXPECT_EQ((*back)["max_memory"], "1GiB");
  EXPECT_EQ((*back)["disks"].size(), 2u);
  EXPECT_EQ((*back)["interfaces"].size(), 2u);
}

TEST(DomainXmlTest, NewDomainCarriesTheMarkAndHotplugHeadroom) {
  Json desired =
      Json::parse(R"({"vcpus": 1, "max_vcpus": 4, "memory": "256MiB", "max_memory": "1GiB"})");
  StatusOr<std::string> xml = NewDomainXml("web1", desired, Context());
  ASSERT_TRUE(xml.ok());
  EXPECT_NE(xml->find("<maxMemory slots=\"16\" unit=\"KiB\">1048576</maxMemory>"),
            std::string::npos)
      << *xml;
  EXPECT_NE(xml->find("<cell id=\"0\" cpus=\"0-3\" memory=\"262144\" unit=\"KiB\""),
            std::string::npos)
      << *xml;
  bool managed = false;
  StatusOr<Json> back = ReadDomainXml(*xml, nullptr, &managed);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(managed);
  EXPECT_EQ((*back)["memory"], "256MiB");
  EXPECT_EQ((*back)["max_memory"], "1GiB");
  EXPECT_EQ((*back)["vcpus"], 1);
  EXPECT_EQ((*back)["max_vcpus"], 4);
}

TEST(DomainXmlTest, MemorySharingOffIsNosharepagesAndBackOnRemovesItKeepingOtherBacking) {
  bool managed = false;
  StatusOr<std::string> off = NewDomainXml(
      "web1", Json::parse(R"({"vcpus": 1, "memory": "64MiB", "memory_sharing": false})"),
      Context());
  ASSERT_TRUE(off.ok()) << off.status().message();
  EXPECT_NE(off->find("<memoryBacking>"), std::string::npos) << *off;
  EXPECT_NE(off->find("<nosharepages"), std::string::npos) << *off;
  StatusOr<Json> read = ReadDomainXml(*off, nullptr, &managed);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ((*read)["memory_sharing"], false);

  // Undeclared: the default (sharing) and no memoryBacking written.
  StatusOr<std::string> plain =
      NewDomainXml("web1", Json::parse(R"({"vcpus": 1, "memory": "64MiB"})"), Context());
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->find("memoryBacking"), std::string::npos) << *plain;
  EXPECT_EQ((*ReadDomainXml(*plain, nullptr, &managed))["memory_sharing"], true);

  // Back on: nosharepages goes, what else the backing holds stays.
  std::string hugepages = *off;
  hugepages.replace(hugepages.find("<nosharepages"), 0, "<locked/>");
  StatusOr<std::string> on =
      MergeDomainXml(hugepages, Json::parse(R"({"memory_sharing": true})"), Context());
  ASSERT_TRUE(on.ok()) << on.status().message();
  EXPECT_EQ(on->find("nosharepages"), std::string::npos) << *on;
  EXPECT_NE(on->find("<locked"), std::string::npos) << *on;
  EXPECT_EQ((*ReadDomainXml(*on, nullptr, &managed))["memory_sharing"], true);
}

TEST(DomainXmlTest, ASnapshotOverlayIsItsVolumeAndTheRecordGivesTheSnapshots) {
  constexpr const char* kSnapshotted = R"(<domain type='kvm'>
  <name>snap</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <metadata>
    <vcsnap:snapshots xmlns:vcsnap="https://virtconverge.dev/xmlns/snapshots/1">
      <vcsnap:snapshot name="s1" consistency="pause" created="2026-12-07T12:00:00Z">
        <vcsnap:disk target="vda" overlay="/img/root.qcow2@s1" backing="/img/root.qcow2"
                    format="qcow2"/>
      </vcsnap:snapshot>
      <vcsnap:snapshot name="s2" consistency="pause" created="2026-12-07T12:01:00Z"/>
    </vcsnap:snapshots>
  </metadata>
  <devices>
    <disk type='file' device='disk'>
      <source file='/img/root.qcow2@s2'/>
      <backingStore type='file'><source file='/img/root.qcow2@s1'/></backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>
    </channel>
  </devices>
</domain>)";
  bool managed = true;
  StatusOr<Json> spec = ReadDomainXml(kSnapshotted, Context().volume_by_path, &managed);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ((*spec)["disks"],
            Json::parse(R"([{"volume": "img/root.qcow2", "target": "vda", "bus": "virtio",
                            "discard": "ignore"}])"));
  EXPECT_EQ((*spec)["snapshots"], Json::parse(R"(["s1", "s2"])"));
  StatusOr<Json> facts = ReadDomainFacts(kSnapshotted);
  ASSERT_TRUE(facts.ok());
  EXPECT_EQ((*facts)["guest_agent"], "connected");
  StatusOr<Json> plain = ReadDomainXml(kHandWritten, Context().volume_by_path, &managed);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->contains("snapshots"));
  EXPECT_EQ((*ReadDomainFacts(kHandWritten))["guest_agent"], "none");
}

TEST(DomainXmlTest, NamesAreTextNeverMarkup) {
  // Names are validated before they get here; the XML library escapes whatever it is given.
  StatusOr<std::string> xml =
      NewDomainXml("a<b>&\"c", Json::parse(R"({"vcpus": 1, "memory": "64MiB"})"), Context());
  ASSERT_TRUE(xml.ok());
  EXPECT_NE(xml->find("<name>a&lt;b&gt;&amp;\"c</name>"), std::string::npos) << *xml;
}

}  // namespace
}  // namespace vc::libvirt
