#include "providers/ceph/ceph_provider.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <list>
#include <map>
#include <rados/librados.hpp>
#include <rbd/librbd.hpp>
#include <set>
#include <sstream>

#include "engine/size.h"
#include "providers/ceph/rbd_features.h"

namespace vc::ceph {
namespace {

// The ownership mark: image metadata (not starting with "conf_", which Ceph reads as settings).
constexpr const char* kMarkKey = "virtconverge.managed";

std::string PoolOf(const std::string& key) { return key.substr(0, key.find('/')); }
std::string ImageOf(const std::string& key) { return key.substr(key.find('/') + 1); }

// A negative errno from librados/librbd as a Status naming what was being done.
Status Errno(int rc, const std::string& what) {
  std::string message = what + ": " + std::strerror(-rc);
  switch (-rc) {
    case ENOENT:
      return Status::NotFound(message);
    case ETIMEDOUT:
    case EAGAIN:
    case EBUSY:
    case ESHUTDOWN:
    case ECONNREFUSED:
      return Status::Unavailable(message).WithErrorCode(ErrorCode::kCephUnavailable);
    case EACCES:
    case EPERM:
      return Status::InvalidArgument(message + " (check the client's caps and key)");
    case EINVAL:
    case ENOSYS:
    case EOPNOTSUPP:
      return Status::Unsupported(message);
    default:
      return Status::Internal(message);
  }
}

// The cephx key of client.`user`: from the conf's `key` option, else from the first keyring
// file the conf names that has a [client.user] section.
StatusOr<std::string> ReadKey(librados::Rados& rados, const std::string& user) {
  std::string key;
  if (rados.conf_get("key", key) == 0 && !key.empty()) return key;
  std::string keyrings;
  rados.conf_get("keyring", keyrings);
  std::stringstream paths(keyrings);
  std::string path;
  while (std::getline(paths, path, ',')) {
    std::ifstream in(path);
    if (!in) continue;
    std::string line;
    bool in_section = false;
    while (std::getline(in, line)) {
      std::string trimmed = line.substr(line.find_first_not_of(" \t") == std::string::npos
                                            ? line.size()
                                            : line.find_first_not_of(" \t"));
      if (!trimmed.empty() && trimmed[0] == '[') {
        in_section = trimmed.rfind("[client." + user + "]", 0) == 0;
      } else if (in_section && trimmed.rfind("key", 0) == 0 &&
                 trimmed.find('=') != std::string::npos) {
        std::string value = trimmed.substr(trimmed.find('=') + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        value.erase(value.find_last_not_of(" \t\r") + 1);
        return value;
      }
    }
  }
  return Status::InvalidArgument("no key for client." + user + " in the keyring(s) " + keyrings);
}

// "[v2:127.0.0.1:3300,v1:127.0.0.1:6789] 10.0.0.2" -> the v1 (or untagged) host:port pairs.
std::vector<std::pair<std::string, int>> ParseMonitors(const std::string& mon_host) {
  std::vector<std::pair<std::string, int>> out;
  std::string token;
  auto flush = [&]() {
    if (token.empty()) return;
    std::string t = token;
    token.clear();
    if (t.rfind("v2:", 0) == 0) return;
    if (t.rfind("v1:", 0) == 0) t = t.substr(3);
    std::size_t slash = t.find('/');  // "ip:port/nonce"
    if (slash != std::string::npos) t = t.substr(0, slash);
    std::size_t colon = t.rfind(':');
    if (colon == std::string::npos) {
      out.emplace_back(t, 6789);
    } else {
      out.emplace_back(t.substr(0, colon), std::atoi(t.substr(colon + 1).c_str()));
    }
  };
  for (char c : mon_host) {
    if (c == '[' || c == ']' || c == ',' || c == ' ' || c == ';') {
      flush();
    } else {
      token += c;
    }
  }
  flush();
  return out;
}

// librbd reports progress of long operations (resize, flatten, object map rebuild); nobody reads
// it.
class NoProgress : public librbd::ProgressContext {
 public:
  int update_progress(std::uint64_t, std::uint64_t) override { return 0; }
};

}  // namespace

struct CephProvider::Cluster {
  librados::Rados rados;
  std::mutex ioctx_mu;
  std::map<std::string, std::unique_ptr<librados::IoCtx>> ioctxs;

  // One IoCtx per pool for the run (librados IoCtx is safe to share across threads for the
  // operations librbd performs through it).
  StatusOr<librados::IoCtx*> Pool(const std::string& name) {
    std::lock_guard<std::mutex> lock(ioctx_mu);
    auto it = ioctxs.find(name);
    if (it != ioctxs.end()) return it->second.get();
    auto ioctx = std::make_unique<librados::IoCtx>();
    int rc = rados.ioctx_create(name.c_str(), *ioctx);
    if (rc < 0) return Errno(rc, "opening Ceph pool " + name);
    librados::IoCtx* raw = ioctx.get();
    ioctxs.emplace(name, std::move(ioctx));
    return raw;
  }
};

CephProvider::CephProvider(std::unique_ptr<Cluster> cluster, std::string conf, std::string user)
    : cluster_(std::move(cluster)),
      conf_(std::move(conf)),
      user_(std::move(user)),
      uri_("ceph:" + conf_ + "?user=" + user_) {}

CephProvider::~CephProvider() {
  if (cluster_) {
    cluster_->ioctxs.clear();
    cluster_->rados.shutdown();
  }
}

StatusOr<std::unique_ptr<CephProvider>> CephProvider::Open(const std::string& conf,
                                                           const std::string& user,
                                                           int timeout_seconds) {
  auto cluster = std::make_unique<Cluster>();
  const std::string where = "Ceph cluster of " + conf + " as client." + user;
  int rc = cluster->rados.init2(("client." + user).c_str(), "ceph", 0);
  if (rc < 0) return Errno(rc, where);
  rc = cluster->rados.conf_read_file(conf.c_str());
  if (rc < 0) return Errno(rc, "reading " + conf);
  // Without these a dead cluster blocks for 300 s (mount) or forever (mon and OSD ops).
  const std::string timeout = std::to_string(timeout_seconds);
  for (const char* option :
       {"client_mount_timeout", "rados_mon_op_timeout", "rados_osd_op_timeout"}) {
    cluster->rados.conf_set(option, timeout.c_str());
  }
  cluster->rados.conf_set("log_to_stderr", "false");
  cluster->rados.conf_set("err_to_stderr", "false");
  rc = cluster->rados.connect();
  if (rc == -EACCES || rc == -EPERM || rc == -EIO) {
    return Status::InvalidArgument("cannot connect to the " + where +
                                   ": authentication failed (wrong key for client." + user + "?)");
  }
  if (rc == -ENOENT) {
    return Status::InvalidArgument("cannot connect to the " + where + ": keyring or key not found");
  }
  if (rc == -ETIMEDOUT) {
    return Status::Unavailable("cannot connect to the " + where +
                               ": no answer from its monitors within " + timeout +
                               " s (is the cluster up?)")
        .WithErrorCode(ErrorCode::kCephUnavailable);
  }
  if (rc < 0) return Errno(rc, "cannot connect to the " + where);
  return std::unique_ptr<CephProvider>(new CephProvider(std::move(cluster), conf, user));
}

StatusOr<ClientAccess> CephProvider::Access() const {
  ClientAccess access;
  access.user = user_;
  std::string mon_host;
  cluster_->rados.conf_get("mon_host", mon_host);
  access.monitors = ParseMonitors(mon_host);
  if (access.monitors.empty()) {
    return Status::InvalidArgument(conf_ + ": no monitor with a v1 address in mon_host (" +
                                   mon_host + ")");
  }
  StatusOr<std::string> key = ReadKey(cluster_->rados, user_);
  if (!key.ok()) return key.status();
  access.key = *key;
  return access;
}

namespace {

// Everything the document can say about one image.
StatusOr<ObservedResource> ReadImage(librados::IoCtx& ioctx, const std::string& key) {
  librbd::RBD rbd;
  librbd::Image image;
  int rc = rbd.open_read_only(ioctx, image, ImageOf(key).c_str(), nullptr);
  if (rc < 0) return Errno(rc, "opening RBD image " + key);
  ObservedResource r{{Kind::kRbdImage, key}, Json::object(), nullptr, false, {}};
  std::uint64_t size = 0;
  if ((rc = image.size(&size)) < 0) return Errno(rc, "reading the size of " + key);
  if (size > 0) r.spec["size"] = FormatSize(size);
  std::uint64_t features = 0;
  if ((rc = image.features(&features)) < 0) return Errno(rc, "reading the features of " + key);
  r.spec["features"] = FeatureNames(features);
  std::vector<librbd::snap_info_t> snaps;
  if ((rc = image.snap_list(snaps)) < 0) return Errno(rc, "listing the snapshots of " + key);
  std::set<std::string> names;
  std::set<std::string> protected_names;
  for (const librbd::snap_info_t& snap : snaps) {
    names.insert(snap.name);
    bool is_protected = false;
    if ((rc = image.snap_is_protected(snap.name.c_str(), &is_protected)) < 0) {
      return Errno(rc, "reading whether snapshot " + snap.name + " of " + key + " is protected");
    }
    if (is_protected) protected_names.insert(snap.name);
  }
  r.spec["snapshots"] = std::vector<std::string>(names.begin(), names.end());
  // What clone steps need to know: a clone is made only from a protected snapshot.
  r.facts = {{"protected_snapshots",
              std::vector<std::string>(protected_names.begin(), protected_names.end())}};
  librbd::linked_image_spec_t parent;
  librbd::snap_spec_t parent_snap;
  if (image.get_parent(&parent, &parent_snap) == 0 && !parent.image_name.empty()) {
    r.spec["clone_from"] = parent.pool_name + "/" + parent.image_name + "@" + parent_snap.name;
  }
  std::string mark;
  r.managed = image.metadata_get(kMarkKey, &mark) == 0 && mark == "true";
  image.close();
  return r;
}

}  // namespace

StatusOr<ObservedState> CephProvider::ObserveAll() {
  ObservedState state;
  state.connection = uri_;
  std::list<std::string> pools;
  int rc = cluster_->rados.pool_list(pools);
  if (rc < 0) return Errno(rc, "listing Ceph pools");
  librbd::RBD rbd;
  for (const std::string& pool : pools) {
    StatusOr<librados::IoCtx*> ioctx = cluster_->Pool(pool);
    if (!ioctx.ok()) continue;  // a pool this client may not use
    std::vector<librbd::image_spec_t> images;
    rc = rbd.list2(**ioctx, &images);
    if (rc == -EPERM || rc == -EACCES || rc == -ENOENT) continue;  // not an RBD pool for us
    if (rc < 0) return Errno(rc, "listing RBD images in pool " + pool);
    for (const librbd::image_spec_t& spec : images) {
      StatusOr<ObservedResource> r = ReadImage(**ioctx, pool + "/" + spec.name);
      if (!r.ok()) {
        if (r.status().code() == Status::Code::kNotFound) continue;  // removed meanwhile
        return r.status();
      }
      state.resources.emplace(r->address, *r);
    }
  }
  return state;
}

StatusOr<std::optional<ObservedResource>> CephProvider::ObserveOne(const Address& address) {
  using Result = std::optional<ObservedResource>;
  if (address.kind != Kind::kRbdImage)
    return Status::Unsupported("the Ceph provider holds RBD images only");
  StatusOr<librados::IoCtx*> ioctx = cluster_->Pool(PoolOf(address.name));
  if (!ioctx.ok()) {
    return ioctx.status().code() == Status::Code::kNotFound ? StatusOr<Result>(Result())
                                                            : ioctx.status();
  }
  StatusOr<ObservedResource> r = ReadImage(**ioctx, address.name);
  if (!r.ok()) {
    return r.status().code() == Status::Code::kNotFound ? StatusOr<Result>(Result()) : r.status();
  }
  return Result(*r);
}

namespace {

Status CreateSnapshots(librbd::Image& image, const Json& names, const std::string& key) {
  std::vector<librbd::snap_info_t> existing;
  if (int rc = image.snap_list(existing); rc < 0)
    return Errno(rc, "listing the snapshots of " + key);
  for (const Json& name : names) {
    std::string snap = name;
    bool present = false;
    for (const librbd::snap_info_t& s : existing) present = present || s.name == snap;
    if (present) continue;
    if (int rc = image.snap_create(snap.c_str()); rc < 0) {
      return Errno(rc, "creating snapshot " + snap + " of " + key);
    }
  }
  return Status::Ok();
}

Status UpdateFeatures(librbd::Image& image, const Json& spec, const std::string& key) {
  NoProgress progress;
  for (bool enabling : {false, true}) {
    std::vector<std::string> names =
        spec.value(enabling ? "enable" : "disable", std::vector<std::string>{});
    for (const std::string& name : DependencyOrder(names, !enabling)) {
      // librbd switches some features in pairs (disabling fast-diff drops the object map too):
      // look again before each one.
      std::uint64_t bits = 0;
      image.features(&bits);
      if (((bits & FeatureBit(name)) != 0) == enabling) continue;
      int rc = image.update_features(FeatureBit(name), enabling);
      if (rc < 0) {
        return Status::Unsupported(std::string(enabling ? "enabling" : "disabling") + " feature " +
                                   name + " of " + key + ": " + std::strerror(-rc) +
                                   (rc == -EINVAL
                                        ? " (Ceph cannot change this feature on an existing "
                                          "image, or another feature depends on it)"
                                        : ""));
      }
      if (enabling && name == "object-map") {
        // A newly enabled object map starts invalid; rebuild it so fast-diff and du are exact.
        if ((rc = image.rebuild_object_map(progress)) < 0)
          return Errno(rc, "rebuilding the object map of " + key);
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Status CephProvider::Execute(const Step& step) {
  if (step.address.kind != Kind::kRbdImage)
    return Status::Unsupported(step.Describe() + ": not a Ceph operation");
  const std::string& key = step.address.name;
  StatusOr<librados::IoCtx*> ioctx = cluster_->Pool(PoolOf(key));
  if (!ioctx.ok()) return ioctx.status();
  librbd::RBD rbd;
  NoProgress progress;

  if (step.op == Step::Op::kCreate) {
    const Json& spec = step.args;
    librbd::ImageOptions options;
    if (spec.contains("features")) {
      std::uint64_t bits = 0;
      for (const Json& f : spec["features"]) bits |= FeatureBit(f.get<std::string>());
      options.set(RBD_IMAGE_OPTION_FEATURES, bits);
    }
    int rc = 0;
    if (spec.contains("clone_from")) {
      // The plan protects the parent's snapshot in a step of its own (protect_snapshot) before
      // this one; cloning does not create or protect anything itself.
      std::string source = spec["clone_from"];
      std::string parent_key = source.substr(0, source.find('@'));
      std::string snap = source.substr(source.find('@') + 1);
      StatusOr<librados::IoCtx*> parent_io = cluster_->Pool(PoolOf(parent_key));
      if (!parent_io.ok()) return parent_io.status();
      rc = rbd.clone3(**parent_io, ImageOf(parent_key).c_str(), snap.c_str(), **ioctx,
                      ImageOf(key).c_str(), options);
      if (rc < 0) return Errno(rc, "cloning " + source + " to " + key);
    } else {
      StatusOr<std::uint64_t> size = ParseSize(spec.value("size", ""));
      if (!size.ok()) return size.status().WithContext("RBD image " + key + ": size");
      if ((rc = rbd.create4(**ioctx, ImageOf(key).c_str(), *size, options)) < 0) {
        return Errno(rc, "creating RBD image " + key);
      }
    }
    librbd::Image image;
    if ((rc = rbd.open(**ioctx, image, ImageOf(key).c_str())) < 0)
      return Errno(rc, "opening " + key);
    // Without the mark the image would never be pruned: a failure to set it is a failure.
    if ((rc = image.metadata_set(kMarkKey, "true")) < 0) {
      return Errno(rc, "marking " + key + " as managed by virtconverge (image metadata)");
    }
    if (spec.contains("clone_from") && spec.contains("size")) {
      // A clone starts at its parent's size; one declared larger grows at creation.
      StatusOr<std::uint64_t> size = ParseSize(spec["size"].get<std::string>());
      if (!size.ok()) return size.status().WithContext("RBD image " + key + ": size");
      std::uint64_t current = 0;
      if ((rc = image.size(&current)) < 0) return Errno(rc, "reading the size of " + key);
      if (*size > current && (rc = image.resize2(*size, false, progress)) < 0) {
        return Errno(rc, "growing the clone " + key);
      }
    }
    return Status::Ok();
  }

  if (step.op == Step::Op::kDelete) {
    librbd::Image image;
    int rc = rbd.open(**ioctx, image, ImageOf(key).c_str());
    if (rc < 0) return Errno(rc, "opening " + key);
    std::vector<librbd::linked_image_spec_t> children;
    if ((rc = image.list_children3(&children)) < 0)
      return Errno(rc, "listing the clones of " + key);
    if (!children.empty()) {
      std::string names;
      for (const auto& c : children)
        names += (names.empty() ? "" : ", ") + c.pool_name + "/" + c.image_name;
      return Status::FailedPrecondition("cannot delete " + key + ": clones depend on it (" + names +
                                        "); flatten or delete them first");
    }
    std::vector<librbd::snap_info_t> snaps;
    if ((rc = image.snap_list(snaps)) < 0) return Errno(rc, "listing the snapshots of " + key);
    for (const librbd::snap_info_t& snap : snaps) {
      bool is_protected = false;
      if ((rc = image.snap_is_protected(snap.name.c_str(), &is_protected)) < 0) {
        return Errno(rc, "reading whether snapshot " + snap.name + " of " + key + " is protected");
      }
      if (is_protected && (rc = image.snap_unprotect(snap.name.c_str())) < 0) {
        return Errno(rc, "unprotecting snapshot " + snap.name + " of " + key);
      }
      if ((rc = image.snap_remove(snap.name.c_str())) < 0)
        return Errno(rc, "removing snapshot " + snap.name);
    }
    image.close();
    if ((rc = rbd.remove(**ioctx, ImageOf(key).c_str())) < 0) return Errno(rc, "deleting " + key);
    return Status::Ok();
  }

  librbd::Image image;
  int rc = rbd.open(**ioctx, image, ImageOf(key).c_str());
  if (rc < 0) return Errno(rc, "opening " + key);
  switch (step.op) {
    case Step::Op::kResize: {
      StatusOr<std::uint64_t> size = ArgBytes(step, "bytes");
      if (!size.ok()) return size.status();
      bool allow_shrink = step.args.value("allow_shrink", false);
      if ((rc = image.resize2(*size, allow_shrink, progress)) < 0) {
        return Errno(rc, "resizing " + key + " to " + FormatSize(*size));
      }
      return Status::Ok();
    }
    case Step::Op::kProtectSnapshot: {
      std::string snap = step.args.value("snapshot", "");
      bool is_protected = false;
      if ((rc = image.snap_is_protected(snap.c_str(), &is_protected)) < 0) {
        return Errno(rc, "reading whether snapshot " + snap + " of " + key + " is protected");
      }
      if (!is_protected && (rc = image.snap_protect(snap.c_str())) < 0) {
        return Errno(rc, "protecting snapshot " + snap + " of " + key);
      }
      return Status::Ok();
    }
    case Step::Op::kUpdateFeatures:
      return UpdateFeatures(image, step.args, key);
    case Step::Op::kCreateSnapshots:
      return CreateSnapshots(image, step.args.value("snapshots", Json::array()), key);
    case Step::Op::kFlatten:
      if ((rc = image.flatten()) < 0) return Errno(rc, "flattening " + key);
      return Status::Ok();
    case Step::Op::kRemoveSnapshot: {
      const std::string snap = step.args.value("snapshot", "");
      bool exists = false;
      if ((rc = image.snap_exists2(snap.c_str(), &exists)) < 0)
        return Errno(rc, "looking up snapshot " + snap + " of " + key);
      if (exists && (rc = image.snap_remove(snap.c_str())) < 0)
        return Errno(rc, "removing snapshot " + snap + " of " + key);
      return Status::Ok();
    }
    case Step::Op::kRollbackSnapshot: {
      const std::string snap = step.args.value("snapshot", "");
      if ((rc = image.snap_rollback_with_progress(snap.c_str(), progress)) < 0)
        return Errno(rc, "rolling " + key + " back to snapshot " + snap);
      for (const Json& later : step.args.value("remove", Json::array())) {
        const std::string name = later.get<std::string>();
        bool exists = false;
        if ((rc = image.snap_exists2(name.c_str(), &exists)) < 0)
          return Errno(rc, "looking up snapshot " + name + " of " + key);
        if (exists && (rc = image.snap_remove(name.c_str())) < 0)
          return Errno(rc, "removing snapshot " + name + " of " + key);
      }
      return Status::Ok();
    }
    default:
      return Status::Unsupported(step.Describe() + ": not a Ceph operation");
  }
}

}  // namespace vc::ceph
