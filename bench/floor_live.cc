// The floor of a live vCPU change (docs/benchmarks.md, "live change"): the least work any tool must
// do to raise the vCPUs of running domains and keep the change across a reboot. For each named
// domain it looks the domain up and makes two calls:
//
//   virDomainSetVcpusFlags(domain, VCPUS, VIR_DOMAIN_AFFECT_LIVE)     the hot-plug
//   virDomainSetVcpusFlags(domain, VCPUS, VIR_DOMAIN_AFFECT_CONFIG)   the persistent config
//
// It reads nothing first and checks nothing afterwards.
//
//   vc_bench_floor_live URI VCPUS [--parallelism P] NAME...
//
// With --parallelism P (default 1) the domains are shared out among P threads on one connection,
// as `virtconverge apply --parallelism P` does. Exit status 0 when every call succeeded, 1
// otherwise (the libvirt error is printed), 2 on bad usage.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

void SilentErrors(void*, virErrorPtr) {}

std::mutex print_mu;

bool Fail(const std::string& what) {
  virErrorPtr error = virGetLastError();  // thread-local in libvirt
  const char* message =
      error != nullptr && error->message != nullptr ? error->message : "unknown error";
  std::lock_guard<std::mutex> lock(print_mu);
  std::fprintf(stderr, "vc_bench_floor_live: %s: %s\n", what.c_str(), message);
  return false;
}

bool RaiseVcpus(virConnectPtr conn, const char* name, unsigned vcpus) {
  virDomainPtr domain = virDomainLookupByName(conn, name);
  if (domain == nullptr) return Fail(std::string("looking up ") + name);
  bool ok = true;
  if (virDomainSetVcpusFlags(domain, vcpus, VIR_DOMAIN_AFFECT_LIVE) < 0) {
    ok = Fail(std::string("hot-plugging vCPUs of ") + name);
  } else if (virDomainSetVcpusFlags(domain, vcpus, VIR_DOMAIN_AFFECT_CONFIG) < 0) {
    ok = Fail(std::string("writing the vCPUs of ") + name + " to its config");
  }
  virDomainFree(domain);
  return ok;
}

int Usage() {
  std::fprintf(stderr, "usage: vc_bench_floor_live URI VCPUS [--parallelism P] NAME...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return Usage();
  const char* uri = argv[1];
  char* end = nullptr;
  const unsigned long vcpus = std::strtoul(argv[2], &end, 10);
  if (*end != '\0' || vcpus == 0) return Usage();
  int first = 3;
  unsigned long parallelism = 1;
  if (std::strcmp(argv[first], "--parallelism") == 0) {
    if (argc < first + 3) return Usage();
    parallelism = std::strtoul(argv[first + 1], &end, 10);
    if (*end != '\0' || parallelism == 0) return Usage();
    first += 2;
  }
  std::vector<const char*> names(argv + first, argv + argc);

  virSetErrorFunc(nullptr, SilentErrors);
  virConnectPtr conn = virConnectOpen(uri);
  if (conn == nullptr) {
    Fail("connecting");
    return 1;
  }
  std::atomic<std::size_t> next{0};
  std::atomic<bool> ok{true};
  auto work = [&] {
    for (std::size_t i = next++; i < names.size(); i = next++) {
      if (!RaiseVcpus(conn, names[i], static_cast<unsigned>(vcpus))) ok = false;
    }
  };
  std::vector<std::thread> threads;
  for (unsigned long t = 1; t < parallelism && t < names.size(); ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  virConnectClose(conn);
  return ok ? 0 : 1;
}
