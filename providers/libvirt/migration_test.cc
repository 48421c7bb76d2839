// Live migration between two real libvirt hosts: private libvirtds that scripts/host-up.sh
// started on this machine (tests/integration/migration_primitive.py starts two, runs these with
// VC_MIGRATION_HOSTS=NAME_A,NAME_B and stops them). Without VC_MIGRATION_HOSTS every test here
// is skipped. Guests are OS-less, 64 MiB, under KVM; every object made is named vct-mig-*.
#include "providers/libvirt/migration.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <pugixml.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "providers/libvirt/connect.h"
#include "providers/libvirt/libvirt_error.h"
#include "providers/libvirt/libvirt_handles.h"
#include "providers/libvirt/storage_xml.h"
#include "providers/libvirt/xml_util.h"

namespace vc::libvirt {
namespace {

using Clock = std::chrono::steady_clock;

std::string Env(const char* name, const char* fallback = "") {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// One private host as scripts/host-up.sh records it under $VC_HOSTS_DIR/NAME.
struct Host {
  std::string name;
  std::string dir;
  std::string uri;
  std::string address;  // where it listens and QEMU takes migrations: a 127/8 address
  Connection conn;

  // Its libvirtd's PID, only if that process is really this host's daemon.
  pid_t DaemonPid() const {
    const pid_t pid = static_cast<pid_t>(std::atol(ReadFile(dir + "/pids").c_str()));
    std::string cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
    for (char& c : cmdline)
      if (c == '\0') c = ' ';
    return pid > 0 && cmdline.find("-f " + dir + "/libvirtd.conf") != std::string::npos ? pid : 0;
  }
};

struct Hosts {
  Host a, b;
};
Hosts* hosts = nullptr;
std::string hosts_error;

// Domain XML of an OS-less KVM guest: SeaBIOS only, 64 MiB, one vCPU.
std::string GuestXml(const std::string& name, const std::string& extra_devices = "",
                     const std::string& qemu_args = "") {
  pugi::xml_document doc;
  doc.load_string(R"(<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/><apic/></features>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/><memballoon model='none'/></devices>
</domain>)");
  pugi::xml_node domain = doc.document_element();
  domain.prepend_child("name").text() = name.c_str();
  AddMark(domain);  // virtconverge's ownership mark: it must travel with the domain
  if (!extra_devices.empty()) {
    pugi::xml_document devices;
    devices.load_string(("<d>" + extra_devices + "</d>").c_str());
    for (pugi::xml_node d : devices.document_element().children())
      domain.child("devices").append_copy(d);
  }
  if (!qemu_args.empty()) {
    pugi::xml_node line = domain.append_child("qemu:commandline");
    std::istringstream words(qemu_args);
    for (std::string w; words >> w;)
      line.append_child("qemu:arg").append_attribute("value") = w.c_str();
  }
  return ToString(doc);
}

// `xml` for the domain `uuid` with another vCPU count: redefined while the domain runs, a
// change pending for its next start (only its persistent configuration has it).
std::string WithPendingVcpus(const std::string& xml, const std::string& uuid, int vcpus) {
  pugi::xml_document doc;
  doc.load_string(xml.c_str());
  pugi::xml_node domain = doc.document_element();
  domain.insert_child_after("uuid", domain.child("name")).text() = uuid.c_str();
  domain.child("vcpu").text() = vcpus;
  return ToString(doc);
}

// The vCPU count and ownership mark of a domain's live (or persistent) definition.
std::pair<int, bool> VcpusAndMark(virDomainPtr d, unsigned int flags) {
  pugi::xml_document doc;
  doc.load_string(AdoptString(virDomainGetXMLDesc(d, flags)).c_str());
  pugi::xml_node domain = doc.document_element();
  return {domain.child("vcpu").text().as_int(), HasMark(domain)};
}

std::string UuidOf(virDomainPtr d) {
  char text[VIR_UUID_STRING_BUFLEN] = {};
  virDomainGetUUIDString(d, text);
  return text;
}

// Running and persistent on `there` with `uuid`, absent from `here`.
void ExpectOnlyOn(const Host& there, const Host& here, const std::string& name,
                  const std::string& uuid) {
  Domain d(virDomainLookupByName(there.conn.get(), name.c_str()));
  ASSERT_TRUE(d) << name << " is not on " << there.name;
  int state = 0;
  ASSERT_EQ(virDomainGetState(d.get(), &state, nullptr, 0), 0);
  EXPECT_EQ(state, VIR_DOMAIN_RUNNING) << name << " on " << there.name;
  EXPECT_EQ(virDomainIsPersistent(d.get()), 1) << name << " is transient on " << there.name;
  EXPECT_EQ(UuidOf(d.get()), uuid);
  Domain gone(virDomainLookupByName(here.conn.get(), name.c_str()));
  EXPECT_FALSE(gone) << name << " is still on " << here.name;
}

void ExpectStillOnSourceOnly(const Host& source, const Host& destination, const std::string& name) {
  Domain d(virDomainLookupByName(source.conn.get(), name.c_str()));
  ASSERT_TRUE(d) << name << " vanished from the source " << source.name;
  int state = 0;
  ASSERT_EQ(virDomainGetState(d.get(), &state, nullptr, 0), 0);
  EXPECT_EQ(state, VIR_DOMAIN_RUNNING) << name << " on the source " << source.name;
  EXPECT_EQ(virDomainIsPersistent(d.get()), 1);
  Domain there(virDomainLookupByName(destination.conn.get(), name.c_str()));
  if (there) {
    int s = 0;
    virDomainGetState(there.get(), &s, nullptr, 0);
    EXPECT_NE(s, VIR_DOMAIN_RUNNING) << name << " runs on the destination too";
    EXPECT_NE(s, VIR_DOMAIN_PAUSED) << name << " is paused on the destination";
  }
}

void PrintStats(const char* what, const MigrationStats& s) {
  std::printf("[  TIMING  ] %s: wall %.2f s, downtime %s ms, qemu %s ms, %s bytes, %d samples\n",
              what, s.wall_seconds, s.downtime_ms ? std::to_string(*s.downtime_ms).c_str() : "?",
              s.qemu_time_ms ? std::to_string(*s.qemu_time_ms).c_str() : "?",
              s.data_processed ? std::to_string(*s.data_processed).c_str() : "?",
              s.progress_samples);
}

class MigrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SilenceDefaultErrorPrinting();
    const std::string names = Env("VC_MIGRATION_HOSTS");
    if (names.empty() || hosts != nullptr) return;
    const std::string dir = Env("VC_HOSTS_DIR", "/tmp/vc-hosts");
    const std::size_t comma = names.find(',');
    if (comma == std::string::npos) {
      hosts_error = "VC_MIGRATION_HOSTS must be NAME_A,NAME_B, got " + names;
      return;
    }
    auto* h = new Hosts;
    for (auto [host, name] : {std::pair<Host*, std::string>{&h->a, names.substr(0, comma)},
                              {&h->b, names.substr(comma + 1)}}) {
      host->name = name;
      host->dir = dir + "/" + name;
      host->uri = Trim(ReadFile(host->dir + "/uri"));
      const std::string listen = Trim(ReadFile(host->dir + "/listen"));  // "yes 127.0.0.42"
      host->address = listen.substr(listen.find(' ') + 1);
      StatusOr<Connection> conn = ConnectWithDeadline(host->uri, std::chrono::seconds(15));
      if (!conn.ok()) {
        hosts_error = "host " + name + " (" + host->uri + "): " + conn.status().message();
        delete h;
        return;
      }
      host->conn = std::move(*conn);
    }
    hosts = h;
  }

  void SetUp() override {
    if (Env("VC_MIGRATION_HOSTS").empty())
      GTEST_SKIP() << "needs two private libvirt hosts: set VC_MIGRATION_HOSTS=NAME_A,NAME_B "
                      "(scripts/host-up.sh; tests/integration/migration_primitive.py does it all)";
    ASSERT_NE(hosts, nullptr) << hosts_error;
    // A guest left behind by an earlier, interrupted run would make every move fail.
    RemoveTestObjects();
  }

  void TearDown() override {
    if (hosts != nullptr) RemoveTestObjects();
  }

  static void RemoveTestObjects() {
    for (Host* host : {&hosts->a, &hosts->b}) {
      virDomainPtr* list = nullptr;
      const int n = virConnectListAllDomains(host->conn.get(), &list, 0);
      for (Domain& d : AdoptList<Domain>(list, n < 0 ? 0 : n)) {
        if (std::string(virDomainGetName(d.get())).rfind("vct-mig-", 0) != 0) continue;
        if (virDomainIsActive(d.get()) == 1) virDomainDestroy(d.get());
        virDomainUndefine(d.get());
      }
    }
  }

  // Defines and starts `xml` on `host`; returns the domain's UUID.
  static std::string Start(const Host& host, const std::string& xml) {
    Domain d(virDomainDefineXML(host.conn.get(), xml.c_str()));
    EXPECT_TRUE(d) << LastError("define on " + host.name).message();
    if (!d) return "";
    EXPECT_EQ(virDomainCreate(d.get()), 0) << LastError("start on " + host.name).message();
    return UuidOf(d.get());
  }
};

// (a) An OS-less guest without disks goes A→B and back: each time it runs on the destination,
// is defined there, is gone from the source, keeps its UUID, and progress was reported.
TEST_F(MigrationTest, MovesARunningGuestThereAndBackKeepingItsUuid) {
  const Host& a = hosts->a;
  const Host& b = hosts->b;
  const std::string name = "vct-mig-plain";
  const std::string uuid = Start(a, GuestXml(name));
  ASSERT_FALSE(uuid.empty());
  Domain pending(
      virDomainDefineXML(a.conn.get(), WithPendingVcpus(GuestXml(name), uuid, 2).c_str()));
  ASSERT_TRUE(pending) << LastError("redefine").message();

  for (auto [from, to] : {std::pair<const Host*, const Host*>{&a, &b}, {&b, &a}}) {
    int calls = 0;
    std::optional<std::uint64_t> memory_total;
    MigrationOptions options;
    options.migration_uri = "tcp://" + to->address;  // QEMU's stream stays on loopback
    options.progress = [&](const MigrationProgress& p) {
      ++calls;
      if (p.memory_total) memory_total = p.memory_total;
    };
    MigrationStats stats;
    Status s = MigrateLive(from->conn.get(), to->conn.get(), name, options, &stats);
    ASSERT_TRUE(s.ok()) << from->name << " -> " << to->name << ": " << s.message();
    ExpectOnlyOn(*to, *from, name, uuid);
    // The persistent definition came along with its pending change and the mark; the live one
    // is still what the guest runs.
    Domain there(virDomainLookupByName(to->conn.get(), name.c_str()));
    ASSERT_TRUE(there);
    EXPECT_EQ(VcpusAndMark(there.get(), 0), std::make_pair(1, true)) << "live definition";
    EXPECT_EQ(VcpusAndMark(there.get(), VIR_DOMAIN_XML_INACTIVE), std::make_pair(2, true))
        << "persistent definition";
    EXPECT_GT(calls, 0) << "the progress callback was never called";
    EXPECT_EQ(stats.progress_samples, calls);
    EXPECT_TRUE(memory_total.has_value()) << "no sample reported the memory to move";
    EXPECT_GT(stats.wall_seconds, 0);
    EXPECT_LT(stats.wall_seconds, 30);
    PrintStats((from->name + " -> " + to->name + " (no disk)").c_str(), stats);
  }
}

// What cannot be moved live is refused before anything starts: a domain the source does not
// have, and one that is not running (it stays defined on the source, and only there).
TEST_F(MigrationTest, RefusesAMissingOrStoppedGuest) {
  const Host& a = hosts->a;
  const Host& b = hosts->b;
  Status s = MigrateLive(a.conn.get(), b.conn.get(), "vct-mig-nonesuch", {});
  EXPECT_EQ(s.error_code(), ErrorCode::kNotFound) << s.message();
  const std::string name = "vct-mig-stopped";
  Domain d(virDomainDefineXML(a.conn.get(), GuestXml(name).c_str()));
  ASSERT_TRUE(d);
  s = MigrateLive(a.conn.get(), b.conn.get(), name, {});
  EXPECT_EQ(s.error_code(), ErrorCode::kOperationFailed) << s.message();
  EXPECT_NE(s.message().find("not running"), std::string::npos) << s.message();
  EXPECT_EQ(virDomainIsActive(d.get()), 0);
  Domain there(virDomainLookupByName(b.conn.get(), name.c_str()));
  EXPECT_FALSE(there);
  // Source and destination the same daemon (another connection to it).
  StatusOr<Connection> again = ConnectWithDeadline(a.uri, std::chrono::seconds(15));
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(virDomainCreate(d.get()), 0);
  s = MigrateLive(a.conn.get(), again->get(), name, {});
  EXPECT_EQ(s.error_code(), ErrorCode::kInvalidValue) << s.message();
  EXPECT_NE(s.message().find("same host"), std::string::npos) << s.message();
  EXPECT_EQ(virDomainIsActive(d.get()), 1);
}

// (b) A guest whose disk is an RBD image on the shared Ceph cluster moves without copying
// storage (both hosts reach the image; only memory and device state move).
TEST_F(MigrationTest, MovesAGuestWithACephDiskWithoutCopyingStorage) {
  const Host& a = hosts->a;
  const Host& b = hosts->b;
  const std::string ceph_dir = Env("VC_CEPH_DIR", "/tmp/vc-ceph");
  const std::string conf = ceph_dir + "/ceph.conf";
  const std::string image = "vct-mig-disk-" + std::to_string(::getpid());
  // The monitor's v1 address from the cluster's ceph.conf ("mon host = [v2:…,v1:IP:PORT]").
  std::smatch mon;
  const std::string conf_text = ReadFile(conf);
  ASSERT_TRUE(std::regex_search(conf_text, mon, std::regex(R"(v1:([0-9.]+):([0-9]+))")))
      << "no Ceph cluster configuration at " << conf << " (scripts/ceph-up.sh)";
  std::smatch key;
  const std::string keyring = ReadFile(ceph_dir + "/ceph.client.virtconverge.keyring");
  ASSERT_TRUE(std::regex_search(keyring, key, std::regex(R"(key\s*=\s*(\S+))")))
      << "no client.virtconverge keyring in " << ceph_dir;
  const std::string rbd = "timeout 60 rbd -c " + conf + " ";
  ASSERT_EQ(std::system((rbd + "create rbd/" + image + " --size 64M >/dev/null 2>&1").c_str()), 0)
      << "cannot create rbd/" << image << ": is the Ceph cluster up (scripts/ceph-up.sh)?";
  struct ImageCleanup {
    std::string command;
    ~ImageCleanup() {
      RemoveTestObjects();  // QEMU holds the image open until its domain is gone
      for (int i = 0; i < 20 && std::system(command.c_str()) != 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  } cleanup{rbd + "rm rbd/" + image + " >/dev/null 2>&1"};

  // The cephx key in a libvirt secret on BOTH hosts, as the provider defines it.
  const std::string secret_uuid = "6f1c0b2e-5d4a-4c3b-9e8f-7a6b5c4d3e2f";
  std::vector<unsigned char> value;
  {
    const std::string b64 = key[1];
    unsigned buffer = 0;
    int bits = 0;
    for (char c : b64) {
      const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      const char* p = c == '=' ? nullptr : std::strchr(alphabet, c);
      if (p == nullptr) break;
      buffer = (buffer << 6) | static_cast<unsigned>(p - alphabet);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        value.push_back(static_cast<unsigned char>((buffer >> bits) & 0xFF));
      }
    }
  }
  struct SecretCleanup {
    std::string uuid;
    ~SecretCleanup() {
      for (Host* host : {&hosts->a, &hosts->b}) {
        Secret s(virSecretLookupByUUIDString(host->conn.get(), uuid.c_str()));
        if (s) virSecretUndefine(s.get());
      }
    }
  } secret_cleanup{secret_uuid};
  for (const Host* host : {&a, &b}) {
    Secret s(virSecretDefineXML(host->conn.get(),
                                CephSecretXml(secret_uuid, "virtconverge").c_str(), 0));
    ASSERT_TRUE(s) << LastError("secret on " + host->name).message();
    ASSERT_EQ(virSecretSetValue(s.get(), value.data(), value.size(), 0), 0);
  }

  pugi::xml_document disk;
  disk.load_string(
      R"(<disk type='network' device='disk'><driver name='qemu' type='raw' cache='none'/>
    <auth username='virtconverge'><secret type='ceph'/></auth>
    <source protocol='rbd'><host/></source><target dev='vda' bus='virtio'/></disk>)");
  pugi::xml_node d = disk.document_element();
  d.child("auth").child("secret").append_attribute("uuid") = secret_uuid.c_str();
  d.child("source").append_attribute("name") = ("rbd/" + image).c_str();
  d.child("source").child("host").append_attribute("name") = mon[1].str().c_str();
  d.child("source").child("host").append_attribute("port") = mon[2].str().c_str();
  const std::string name = "vct-mig-rbd";
  const std::string uuid = Start(a, GuestXml(name, ToString(disk)));
  ASSERT_FALSE(uuid.empty());

  MigrationOptions options;
  options.migration_uri = "tcp://" + b.address;
  MigrationStats stats;
  Status s = MigrateLive(a.conn.get(), b.conn.get(), name, options, &stats);
  ASSERT_TRUE(s.ok()) << s.message();
  ExpectOnlyOn(b, a, name, uuid);
  Domain moved(virDomainLookupByName(b.conn.get(), name.c_str()));
  ASSERT_TRUE(moved);
  const std::string live = AdoptString(virDomainGetXMLDesc(moved.get(), 0));
  EXPECT_NE(live.find("rbd/" + image), std::string::npos) << "the disk did not come along";
  PrintStats("A -> B (Ceph RBD disk, no storage copy)", stats);

  options.migration_uri = "tcp://" + a.address;
  s = MigrateLive(b.conn.get(), a.conn.get(), name, options, &stats);
  ASSERT_TRUE(s.ok()) << s.message();
  ExpectOnlyOn(a, b, name, uuid);
  PrintStats("B -> A (Ceph RBD disk, no storage copy)", stats);
}

// (c) A CPU asking for a feature this host's hypervisor does not offer is refused, naming the
// feature; the same CPU without it is accepted, as a bare <cpu> and inside a domain.
TEST_F(MigrationTest, CpuCheckRefusesAFeatureTheHostLacksAndNamesIt) {
  const Host& b = hosts->b;
  // What the hypervisor offers: its host-model CPU, all features spelled out.
  const std::string caps = AdoptString(
      virConnectGetDomainCapabilities(b.conn.get(), nullptr, nullptr, nullptr, nullptr, 0));
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(caps.c_str()));
  pugi::xml_node mode =
      doc.document_element().child("cpu").find_child_by_attribute("mode", "name", "host-model");
  ASSERT_TRUE(mode) << "no host-model CPU";
  pugi::xml_document host_model;
  pugi::xml_node cpu = host_model.append_child("cpu");
  cpu.append_attribute("mode") = "custom";
  cpu.append_attribute("match") = "exact";
  for (pugi::xml_node child : mode.children()) cpu.append_copy(child);
  const std::string host_model_xml = ToString(host_model);
  const char* cpus[] = {host_model_xml.c_str()};
  const std::string expanded = AdoptString(
      virConnectBaselineHypervisorCPU(b.conn.get(), nullptr, nullptr, nullptr, nullptr, cpus, 1,
                                      VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES));
  ASSERT_FALSE(expanded.empty()) << LastError("expand").message();
  std::string lacking;
  for (const char* candidate : {"avx512f", "avx2", "avx", "sse4.2", "aes", "pclmuldq"}) {
    if (expanded.find("name='" + std::string(candidate) + "'") == std::string::npos) {
      lacking = candidate;
      break;
    }
  }
  ASSERT_FALSE(lacking.empty()) << "this host offers every candidate feature";
  std::printf("[   INFO   ] host-model %s lacks %s\n", mode.child_value("model"), lacking.c_str());

  std::vector<std::string> missing{"stale"};
  EXPECT_TRUE(CheckCpuCompatible(b.conn.get(), host_model_xml, &missing).ok());
  EXPECT_TRUE(missing.empty());

  pugi::xml_node extra = cpu.append_child("feature");
  extra.append_attribute("policy") = "require";
  extra.append_attribute("name") = lacking.c_str();
  const std::string wanting = ToString(host_model);
  Status s = CheckCpuCompatible(b.conn.get(), wanting, &missing);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error_code(), ErrorCode::kOperationFailed);
  EXPECT_EQ(missing, std::vector<std::string>{lacking});
  EXPECT_NE(s.message().find(lacking), std::string::npos) << s.message();  // libvirt's reason

  // The same <cpu> inside a domain: the domain's type, arch and machine are used.
  pugi::xml_document domain;
  domain.load_string(GuestXml("vct-mig-cpu").c_str());
  domain.document_element().append_copy(cpu);
  s = CheckCpuCompatible(b.conn.get(), ToString(domain), &missing);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(missing, std::vector<std::string>{lacking});
  // A domain without <cpu> runs the hypervisor's default: nothing to refuse.
  EXPECT_TRUE(CheckCpuCompatible(b.conn.get(), GuestXml("vct-mig-cpu"), &missing).ok());
  // Not a CPU at all.
  EXPECT_EQ(CheckCpuCompatible(b.conn.get(), "<network/>").error_code(), ErrorCode::kInvalidValue);
}

// The baseline of both hosts' host-model CPUs runs on each, and has only migratable features.
TEST_F(MigrationTest, BaselineCpuOfBothHostsRunsOnEach) {
  StatusOr<std::string> cpu = BaselineCpu({hosts->a.conn.get(), hosts->b.conn.get()});
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  EXPECT_NE(cpu->find("<model"), std::string::npos) << *cpu;
  EXPECT_EQ(cpu->find("invtsc"), std::string::npos) << "invtsc cannot migrate:\n" << *cpu;
  EXPECT_TRUE(CheckCpuCompatible(hosts->a.conn.get(), *cpu).ok());
  EXPECT_TRUE(CheckCpuCompatible(hosts->b.conn.get(), *cpu).ok());
  EXPECT_EQ(BaselineCpu({}).status().error_code(), ErrorCode::kInvalidValue);
}

// 32 MiB of random bytes that QEMU's loader device puts into guest RAM at 16 MiB: memory a
// migration cannot skip or compress, so a bandwidth cap makes it slow. Both QEMUs load the file;
// the destination's copy is overwritten by the migration stream.
class RamBlob {
 public:
  RamBlob() : dir_("/tmp/vct-mig-" + std::to_string(::getpid())), path_(dir_ + "/ram.bin") {
    ::mkdir(dir_.c_str(), 0755);
    ::chmod(dir_.c_str(), 0755);  // QEMU runs as libvirt-qemu
    std::ofstream out(path_, std::ios::binary);
    std::mt19937_64 random(42);
    for (int i = 0; i < kBytes / 8; ++i) {
      const std::uint64_t v = random();
      out.write(reinterpret_cast<const char*>(&v), sizeof v);
    }
    out.close();
    ::chmod(path_.c_str(), 0644);
  }
  RamBlob(const RamBlob&) = delete;
  RamBlob& operator=(const RamBlob&) = delete;
  ~RamBlob() {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  static constexpr int kBytes = 32 << 20;
  std::string QemuArgs() const {
    return "-device loader,file=" + path_ + ",addr=0x1000000,force-raw=on";
  }

 private:
  std::string dir_, path_;
};

// Waits until `host` answers again (after SIGCONT) and no longer runs `name` (a destination
// cleans up an incoming guest whose client went away).
void ExpectDestinationRecovers(const Host& source, const Host& host, const std::string& name) {
  char* hostname = nullptr;
  for (int i = 0; i < 100 && hostname == nullptr; ++i) {
    hostname = virConnectGetHostname(host.conn.get());
    if (hostname == nullptr) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_NE(hostname, nullptr) << LastError("host " + host.name + " after SIGCONT").message();
  std::free(hostname);
  for (int i = 0; i < 100; ++i) {
    Domain d(virDomainLookupByName(host.conn.get(), name.c_str()));
    if (!d || virDomainIsActive(d.get()) == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ExpectStillOnSourceOnly(source, host, name);
}

// Stops a host's libvirtd (SIGSTOP: its socket accepts, nothing answers) until destroyed.
class StoppedDaemon {
 public:
  explicit StoppedDaemon(pid_t pid) : pid_(pid) {}
  StoppedDaemon(const StoppedDaemon&) = delete;
  StoppedDaemon& operator=(const StoppedDaemon&) = delete;
  ~StoppedDaemon() {
    if (stopped_) ::kill(pid_, SIGCONT);
  }
  void Stop() {
    if (!stopped_.exchange(true)) ::kill(pid_, SIGSTOP);
  }

 private:
  pid_t pid_;
  std::atomic<bool> stopped_{false};
};

// The deadline: a migration throttled to 1 MiB/s with 32 MiB of incompressible guest RAM to
// move cannot finish in 2 s; it is aborted then, and the guest keeps running on the source.
TEST_F(MigrationTest, DeadlineAbortsASlowMigrationAndTheGuestStaysOnTheSource) {
  const Host& a = hosts->a;
  const Host& b = hosts->b;
  RamBlob blob;
  const std::string name = "vct-mig-slow";
  ASSERT_FALSE(Start(a, GuestXml(name, "", blob.QemuArgs())).empty());

  MigrationOptions options;
  options.migration_uri = "tcp://" + b.address;
  options.bandwidth_mib_per_second = 1;
  options.deadline = std::chrono::seconds(2);
  std::optional<std::uint64_t> remaining;
  options.progress = [&](const MigrationProgress& p) {
    if (p.data_remaining) remaining = p.data_remaining;
  };
  const Clock::time_point start = Clock::now();
  Status s = MigrateLive(a.conn.get(), b.conn.get(), name, options);
  const double took = Since(start);
  std::printf("[  TIMING  ] deadline 2 s: failed after %.2f s: %s\n", took, s.message().c_str());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error_code(), ErrorCode::kTimeout) << s.message();
  EXPECT_TRUE(s.transient());
  EXPECT_GE(took, 2.0);
  EXPECT_LT(took, 15.0);
  EXPECT_TRUE(remaining.has_value() && *remaining > (8u << 20))
      << "the migration was not under way when it was aborted";
  EXPECT_NE(s.message().find("still runs on the source"), std::string::npos) << s.message();
  ExpectStillOnSourceOnly(a, b, name);
}

// (d) The destination's daemon is stopped before the move: the first call to it fails within
// the connection's keepalive (a connection of its own, about 3 s), nothing is started, and the
// guest keeps running on the source.
TEST_F(MigrationTest, DestinationStoppedBeforehandFailsAndTheGuestStaysOnTheSource) {
  const Host& a = hosts->a;
  const Host& b = hosts->b;
  const std::string name = "vct-mig-stranded";
  ASSERT_FALSE(Start(a, GuestXml(name)).empty());
  StatusOr<Connection> short_b = ConnectWithDeadline(b.uri, std::chrono::seconds(3));
  ASSERT_TRUE(short_b.ok()) << short_b.status().message();
  ASSERT_GT(b.DaemonPid(), 0) << "cannot find host " << b.name << "'s libvirtd";
  Status s = Status::Ok();
  double took = 0;
  {
    StoppedDaemon stopped(b.DaemonPid());
    stopped.Stop();
    MigrationOptions options;
    options.migration_uri = "tcp://" + b.address;
    const Clock::time_point start = Clock::now();
    s = MigrateLive(a.conn.get(), short_b->get(), name, options);
    took = Since(start);
  }
  std::printf("[  TIMING  ] destination stopped beforehand: failed after %.2f s: %s\n", took,
              s.message().c_str());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error_code(), ErrorCode::kConnectionLost) << s.message();
  EXPECT_TRUE(s.transient());
  EXPECT_LT(took, 20.0);
  EXPECT_NE(s.message().find("still runs on the source"), std::string::npos) << s.message();
  ExpectDestinationRecovers(a, b, name);
}

// (d) The destination's daemon stops while the memory is on its way (8 MiB/s, 32 MiB): the
// destination connection closes by keepalive, libvirt cancels the move, and the guest runs on
// the source; the destination, once it answers again, does not run it.
TEST_F(MigrationTest, DestinationStoppedDuringTheMoveFailsAndTheGuestStaysOnTheSource) {
  const Host& a = hosts->a;
  const Host& b = hosts->b;
  RamBlob blob;
  const std::string name = "vct-mig-midway";
  ASSERT_FALSE(Start(a, GuestXml(name, "", blob.QemuArgs())).empty());
  StatusOr<Connection> short_b = ConnectWithDeadline(b.uri, std::chrono::seconds(3));
  ASSERT_TRUE(short_b.ok()) << short_b.status().message();
  ASSERT_GT(b.DaemonPid(), 0) << "cannot find host " << b.name << "'s libvirtd";
  Status s = Status::Ok();
  double took = 0;
  std::atomic<bool> stopped_midway{false};
  {
    StoppedDaemon stopped(b.DaemonPid());
    MigrationOptions options;
    options.migration_uri = "tcp://" + b.address;
    options.bandwidth_mib_per_second = 8;
    options.progress = [&](const MigrationProgress& p) {
      if (p.data_processed && *p.data_processed > (1u << 20) && p.data_remaining &&
          *p.data_remaining > (8u << 20)) {
        stopped_midway = true;
        stopped.Stop();
      }
    };
    const Clock::time_point start = Clock::now();
    s = MigrateLive(a.conn.get(), short_b->get(), name, options);
    took = Since(start);
  }
  std::printf("[  TIMING  ] destination stopped midway: failed after %.2f s: %s\n", took,
              s.message().c_str());
  ASSERT_TRUE(stopped_midway) << "the daemon was not stopped during the move: " << s.message();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error_code(), ErrorCode::kConnectionLost) << s.message();
  EXPECT_LT(took, 20.0);
  EXPECT_NE(s.message().find("still runs on the source"), std::string::npos) << s.message();
  ExpectDestinationRecovers(a, b, name);
}

}  // namespace
}  // namespace vc::libvirt
