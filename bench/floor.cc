// The floor of a no-op `virtconverge plan`: the least work any tool must do to compare a host's
// domains against a document. It connects to a libvirt URI, lists every domain and reads each
// one's persistent XML, frees everything and exits. Nothing is parsed or compared.
//
//   vc_bench_floor URI          the floor the benchmark compares `plan` against
//   vc_bench_floor URI --all    also the other libvirt calls `plan` makes (pools, their volumes and
//                               volume paths, networks, the two domain lists that give state and
//                               autostart, the live XML of running domains): the libvirt share of
//                               a plan, for profiling
//
// A domain undefined meanwhile (by another client) is skipped, as plan skips it. Exit status 0 on
// success, 1 on any other libvirt error (printed to stderr). With VC_BENCH_FLOOR_VERBOSE set it
// prints how many domains and bytes of XML it read.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

namespace {

void SilentErrors(void*, virErrorPtr) {}

int Fail(const char* what) {
  virErrorPtr error = virGetLastError();
  const char* message =
      error != nullptr && error->message != nullptr ? error->message : "unknown error";
  std::fprintf(stderr, "vc_bench_floor: %s: %s\n", what, message);
  return 1;
}

// Reads an XML description and frees it; false when libvirt returned nothing, unless the object
// has just disappeared.
bool Consume(char* xml, unsigned long long* bytes) {
  if (xml == nullptr) {
    virErrorPtr error = virGetLastError();
    return error != nullptr && error->code == VIR_ERR_NO_DOMAIN;
  }
  *bytes += std::strlen(xml);
  std::free(xml);
  return true;
}

int ReadStorageAndNetworks(virConnectPtr conn, unsigned long long* bytes) {
  virStoragePoolPtr* pools = nullptr;
  int n = virConnectListAllStoragePools(conn, &pools, 0);
  if (n < 0) return Fail("listing storage pools");
  int rc = 0;
  for (int i = 0; i < n; ++i) {
    char* xml = virStoragePoolGetXMLDesc(pools[i], VIR_STORAGE_XML_INACTIVE);
    if (xml == nullptr) xml = virStoragePoolGetXMLDesc(pools[i], 0);  // test driver: no flags
    if (rc == 0 && !Consume(xml, bytes)) rc = Fail("reading a pool");
    int autostart = 0;
    virStoragePoolGetAutostart(pools[i], &autostart);
    if (rc == 0 && virStoragePoolIsActive(pools[i]) == 1) {
      virStorageVolPtr* volumes = nullptr;
      int m = virStoragePoolListAllVolumes(pools[i], &volumes, 0);
      if (m < 0) rc = Fail("listing volumes");
      for (int j = 0; j < m; ++j) {
        if (rc == 0 && !Consume(virStorageVolGetXMLDesc(volumes[j], 0), bytes)) {
          rc = Fail("reading a volume");
        }
        if (rc == 0 && !Consume(virStorageVolGetPath(volumes[j]), bytes)) {
          rc = Fail("reading a volume path");
        }
        virStorageVolFree(volumes[j]);
      }
      std::free(volumes);
    }
    virStoragePoolFree(pools[i]);
  }
  std::free(pools);
  if (rc != 0) return rc;

  virNetworkPtr* networks = nullptr;
  n = virConnectListAllNetworks(conn, &networks, 0);
  if (n < 0) return Fail("listing networks");
  for (int i = 0; i < n; ++i) {
    char* xml = virNetworkGetXMLDesc(networks[i], VIR_NETWORK_XML_INACTIVE);
    if (xml == nullptr) xml = virNetworkGetXMLDesc(networks[i], 0);  // test driver: no flags
    if (rc == 0 && !Consume(xml, bytes)) rc = Fail("reading a network");
    int autostart = 0;
    virNetworkGetAutostart(networks[i], &autostart);
    virNetworkFree(networks[i]);
  }
  std::free(networks);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3 || (argc == 3 && std::strcmp(argv[2], "--all") != 0)) {
    std::fprintf(stderr, "usage: vc_bench_floor URI [--all]\n");
    return 2;
  }
  const bool all = argc == 3;
  virSetErrorFunc(nullptr, SilentErrors);
  virConnectPtr conn = virConnectOpen(argv[1]);
  if (conn == nullptr) return Fail("connecting");
  unsigned long long bytes = 0;
  int rc = all ? ReadStorageAndNetworks(conn, &bytes) : 0;

  // As plan does since it stopped asking each domain: the running and the autostarted domains in
  // one list call each.
  std::set<std::string> active;
  std::set<std::string> autostarted;
  if (rc == 0 && all) {
    const unsigned flags[] = {VIR_CONNECT_LIST_DOMAINS_ACTIVE, VIR_CONNECT_LIST_DOMAINS_AUTOSTART};
    for (unsigned flag : flags) {
      virDomainPtr* listed = nullptr;
      int count = virConnectListAllDomains(conn, &listed, flag);
      if (count < 0) {
        rc = Fail("listing domains");
        break;
      }
      for (int i = 0; i < count; ++i) {
        (flag == flags[0] ? active : autostarted).insert(virDomainGetName(listed[i]));
        virDomainFree(listed[i]);
      }
      std::free(listed);
    }
  }

  virDomainPtr* domains = nullptr;
  int n = rc == 0 ? virConnectListAllDomains(conn, &domains, 0) : 0;
  if (n < 0) rc = Fail("listing domains");
  for (int i = 0; i < n; ++i) {
    if (rc == 0 && !Consume(virDomainGetXMLDesc(domains[i], VIR_DOMAIN_XML_INACTIVE), &bytes)) {
      rc = Fail("reading a domain");
    }
    if (rc == 0 && all && active.count(virDomainGetName(domains[i])) > 0 &&
        !Consume(virDomainGetXMLDesc(domains[i], 0), &bytes)) {
      rc = Fail("reading a live domain");
    }
    virDomainFree(domains[i]);
  }
  std::free(domains);
  virConnectClose(conn);
  if (std::getenv("VC_BENCH_FLOOR_VERBOSE") != nullptr) {
    std::fprintf(stderr, "vc_bench_floor: %d domain(s), %llu bytes of XML\n", n, bytes);
  }
  return rc;
}
