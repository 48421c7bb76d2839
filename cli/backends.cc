#include "cli/backends.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

#include "providers/ceph/ceph_plugin.h"

namespace vc::cli {
namespace {

// The Ceph plugin: $VC_CEPH_PLUGIN, else beside the binary (a build tree), else where
// `cmake --install` puts it. Loaded once, never unloaded (its objects live as long as the run).
StatusOr<ceph::PluginOpen> LoadCephPlugin() {
  static void* handle = nullptr;
  static std::string error;
  static std::once_flag once;
  std::call_once(once, [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("VC_CEPH_PLUGIN"); env != nullptr && *env != '\0')
      candidates.push_back(env);
    char self[PATH_MAX] = {};
    if (ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1); n > 0) {
      candidates.push_back(
          (std::filesystem::path(std::string(self, static_cast<std::size_t>(n))).parent_path() /
           VC_CEPH_PLUGIN_NAME)
              .string());
    }
    candidates.push_back(VC_CEPH_PLUGIN_INSTALLED);
    for (const std::string& path : candidates) {
      if (!std::filesystem::exists(path)) continue;
      handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle != nullptr) return;
      error += std::string(dlerror()) + "; ";
    }
    error += "looked for " + std::string(VC_CEPH_PLUGIN_NAME) + " beside the binary and in " +
             VC_CEPH_PLUGIN_INSTALLED;
  });
  if (handle == nullptr) return Status::Unavailable("the Ceph plugin cannot be loaded: " + error);
  auto open = reinterpret_cast<ceph::PluginOpen>(dlsym(handle, ceph::kPluginEntry));
  if (open == nullptr)
    return Status::Internal("the Ceph plugin has no entry point " +
                            std::string(ceph::kPluginEntry));
  return open;
}

}  // namespace

StatusOr<std::unique_ptr<Backends>> Backends::Open(const std::string& uri, const Json& ceph) {
  auto backends = std::make_unique<Backends>();
  StatusOr<std::unique_ptr<libvirt::LibvirtProvider>> lv = libvirt::LibvirtProvider::Open(uri);
  if (!lv.ok()) return lv.status();
  backends->libvirt_ = std::move(*lv);
  backends->composite_ = std::make_unique<CompositeProvider>(backends->libvirt_.get());
  if (ceph.is_object()) {
    StatusOr<ceph::PluginOpen> open = LoadCephPlugin();
    if (!open.ok()) return open.status();
    ceph::PluginResult result;
    (*open)(ceph.value("conf", ""), ceph.value("user", "admin"), &result);
    if (!result.status.ok()) return result.status;
    backends->libvirt_->SetCephClient(
        {result.access.monitors, result.access.user, result.access.key});
    backends->ceph_ = std::move(result.provider);
    backends->composite_->Route(Kind::kRbdImage, backends->ceph_.get());
  }
  return backends;
}

}  // namespace vc::cli
