#include "providers/libvirt/seed_image.h"

// The struct burn_source that libisofs hands out is declared in its header only without libburn.
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

namespace vc::libvirt {
namespace {

// A fixed point in time for every timestamp of the image, so its bytes depend on the files only.
constexpr time_t kEpoch = 946684800;  // 2000-01-01T00:00:00Z
char kVolumeTimes[] = "2000010100000000";

Status InitLibisofs() {
  static int result = [] {
    int r = iso_init();
    if (r >= 0) {
      // libisofs reports through its own queue and prints to stderr: only the CLI prints.
      iso_set_msgs_severities(const_cast<char*>("NEVER"), const_cast<char*>("NEVER"),
                              const_cast<char*>("virtconverge"));
    }
    return r;
  }();
  if (result < 0) return Status::Internal("libisofs could not be initialised");
  return Status::Ok();
}

Status Failed(const char* what, int code) {
  const char* text = iso_error_to_msg(code);
  return Status::Internal(std::string("seed image: ") + what + ": " + (text ? text : "error"));
}

struct ImageUnref {
  void operator()(IsoImage* image) const { iso_image_unref(image); }
};
struct WriteOptsFree {
  void operator()(IsoWriteOpts* opts) const { iso_write_opts_free(opts); }
};
struct ReadOptsFree {
  void operator()(IsoReadOpts* opts) const { iso_read_opts_free(opts); }
};
using Image = std::unique_ptr<IsoImage, ImageUnref>;

void FixTimes(IsoNode* node) {
  iso_node_set_mtime(node, kEpoch);
  iso_node_set_atime(node, kEpoch);
  iso_node_set_ctime(node, kEpoch);
}

// An IsoDataSource over bytes the caller keeps alive.
struct Bytes {
  std::string_view data;
};
int SourceOpen(IsoDataSource*) { return ISO_SUCCESS; }
int SourceClose(IsoDataSource*) { return ISO_SUCCESS; }
int SourceRead(IsoDataSource* src, uint32_t lba, uint8_t* buffer) {
  const std::string_view data = static_cast<Bytes*>(src->data)->data;
  const std::size_t offset = static_cast<std::size_t>(lba) * 2048;
  if (offset >= data.size()) return ISO_DATA_SOURCE_MISHAP;
  const std::size_t n = std::min<std::size_t>(2048, data.size() - offset);
  std::memcpy(buffer, data.data() + offset, n);
  std::memset(buffer + n, 0, 2048 - n);
  return ISO_SUCCESS;
}
void SourceFree(IsoDataSource*) {}

}  // namespace

StatusOr<std::string> BuildSeedImage(const std::vector<SeedFile>& files) {
  if (Status s = InitLibisofs(); !s.ok()) return s;
  IsoImage* raw = nullptr;
  if (int r = iso_image_new("cidata", &raw); r < 0) return Failed("new image", r);
  Image image(raw);
  iso_image_set_volume_id(image.get(), "cidata");
  IsoDir* root = iso_image_get_root(image.get());
  iso_node_set_permissions(reinterpret_cast<IsoNode*>(root), 0555);
  FixTimes(reinterpret_cast<IsoNode*>(root));
  for (const SeedFile& f : files) {
    // The memory stream takes the buffer over (and frees it with free()).
    auto* buffer =
        static_cast<unsigned char*>(std::malloc(std::max<std::size_t>(f.content.size(), 1)));
    if (buffer == nullptr) return Status::Internal("seed image: out of memory");
    std::memcpy(buffer, f.content.data(), f.content.size());
    IsoStream* stream = nullptr;
    if (int r = iso_memory_stream_new(buffer, f.content.size(), &stream); r < 0) {
      std::free(buffer);
      return Failed("file stream", r);
    }
    IsoFile* file = nullptr;
    // The new file takes the stream's reference over.
    int r = iso_image_add_new_file(image.get(), root, f.name.c_str(), stream, &file);
    if (r < 0) {
      iso_stream_unref(stream);
      return Failed(f.name.c_str(), r);
    }
    IsoNode* node = reinterpret_cast<IsoNode*>(file);
    iso_node_set_permissions(node, 0444);
    iso_node_set_uid(node, 0);
    iso_node_set_gid(node, 0);
    FixTimes(node);
  }
  IsoWriteOpts* raw_opts = nullptr;
  if (int r = iso_write_opts_new(&raw_opts, 2); r < 0) return Failed("write options", r);
  std::unique_ptr<IsoWriteOpts, WriteOptsFree> opts(raw_opts);
  iso_write_opts_set_rockridge(opts.get(), 1);
  iso_write_opts_set_joliet(opts.get(), 1);
  iso_write_opts_set_relaxed_vol_atts(opts.get(), 1);  // the volume id stays "cidata", lowercase
  iso_write_opts_set_always_gmt(opts.get(), 1);
  iso_write_opts_set_replace_timestamps(opts.get(), 2);
  iso_write_opts_set_default_timestamp(opts.get(), kEpoch);
  iso_write_opts_set_pvd_times(opts.get(), kEpoch, kEpoch, 0, kEpoch, kVolumeTimes);
  iso_write_opts_set_replace_mode(opts.get(), 0, 0, 0, 0);  // the modes set above
  struct burn_source* source = nullptr;
  if (int r = iso_image_create_burn_source(image.get(), opts.get(), &source); r < 0) {
    return Failed("write", r);
  }
  std::string out;
  unsigned char block[2048];
  int n = 0;
  while ((n = source->read_xt(source, block, sizeof block)) > 0) {
    out.append(reinterpret_cast<const char*>(block), static_cast<std::size_t>(n));
  }
  source->free_data(source);
  std::free(source);
  if (n < 0 || out.empty()) return Status::Internal("seed image: libisofs wrote no image");
  return out;
}

StatusOr<std::vector<SeedFile>> ReadSeedImage(std::string_view bytes) {
  if (Status s = InitLibisofs(); !s.ok()) return s;
  if (bytes.size() < 17 * 2048) return Status::InvalidArgument("seed: too short for ISO 9660");
  IsoImage* raw = nullptr;
  if (int r = iso_image_new("", &raw); r < 0) return Failed("new image", r);
  Image image(raw);
  IsoReadOpts* raw_opts = nullptr;
  if (int r = iso_read_opts_new(&raw_opts, 0); r < 0) return Failed("read options", r);
  std::unique_ptr<IsoReadOpts, ReadOptsFree> opts(raw_opts);
  Bytes data{bytes};
  IsoDataSource source{};
  source.version = 0;
  source.refcount = 1;
  source.open = SourceOpen;
  source.close = SourceClose;
  source.read_block = SourceRead;
  source.free_data = SourceFree;
  source.data = &data;
  if (int r = iso_image_import(image.get(), &source, opts.get(), nullptr); r < 0) {
    return Status::InvalidArgument(std::string("seed: not an ISO 9660 image: ") +
                                   (iso_error_to_msg(r) ? iso_error_to_msg(r) : "error"));
  }
  const char* volume = iso_image_get_volume_id(image.get());
  if (volume == nullptr || std::string_view(volume) != "cidata") {
    return Status::InvalidArgument(std::string("seed: volume id is '") + (volume ? volume : "") +
                                   "', not 'cidata'");
  }
  std::vector<SeedFile> files;
  IsoDirIter* iter = nullptr;
  if (int r = iso_dir_get_children(iso_image_get_root(image.get()), &iter); r < 0) {
    return Failed("list", r);
  }
  IsoNode* node = nullptr;
  Status status = Status::Ok();
  while (status.ok() && iso_dir_iter_next(iter, &node) == 1) {
    if (iso_node_get_type(node) != LIBISO_FILE) continue;
    IsoStream* stream = iso_file_get_stream(reinterpret_cast<IsoFile*>(node));
    if (int r = iso_stream_open(stream); r < 0) {
      status = Failed("open", r);
      break;
    }
    SeedFile f{iso_node_get_name(node), ""};
    char buffer[4096];
    int n = 0;
    while ((n = iso_stream_read(stream, buffer, sizeof buffer)) > 0) {
      f.content.append(buffer, static_cast<std::size_t>(n));
    }
    iso_stream_close(stream);
    if (n < 0) status = Failed("read", n);
    files.push_back(std::move(f));
  }
  iso_dir_iter_free(iter);
  if (!status.ok()) return status;
  std::sort(files.begin(), files.end(),
            [](const SeedFile& a, const SeedFile& b) { return a.name < b.name; });
  return files;
}

}  // namespace vc::libvirt
