#include "cli/host_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <thread>

#include "engine/utc_time.h"

namespace vc::cli {
namespace {

constexpr std::chrono::milliseconds kProbeGrace{250};

bool PrivateHost(const std::string& uri) { return uri.rfind("test:", 0) == 0; }

// The lock directory must be a real directory that no one else can swap files in: ours, or a
// sticky shared one (like /tmp) so each file stays its creator's.
bool UsableDirectory(const std::string& dir, mode_t mode) {
  if (::mkdir(dir.c_str(), mode) == 0) ::chmod(dir.c_str(), mode);  // not narrowed by the umask
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  const bool ours = st.st_uid == ::geteuid() && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
  const bool shared_sticky = st.st_uid == 0 && (st.st_mode & S_ISVTX) != 0;
  return (ours || shared_sticky) && ::access(dir.c_str(), W_OK | X_OK) == 0;
}

// One directory for every user of the system daemons, so root's runs (Puppet, Salt) and an
// operator's exclude each other: /run/virtconverge, sticky and world-writable like /tmp, made by
// the first run that can (root). Per-user places only when it does not exist.
std::string LockDirectory() {
  if (const char* dir = std::getenv("VIRTCONVERGE_LOCK_DIR"); dir != nullptr && *dir != '\0')
    return dir;
  const bool root = ::geteuid() == 0;
  if (UsableDirectory("/run/virtconverge", root ? 01777 : 0700)) {
    if (root) ::chmod("/run/virtconverge", 01777);  // one made by an earlier version was 0700
    return "/run/virtconverge";
  }
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && *runtime != '\0')
    return std::string(runtime) + "/virtconverge";
  return fmt::format("/tmp/virtconverge-{}", ::getuid());
}

// A file name for the URI: its safe characters (for the operator who looks) and a hash of all
// of it (so two URIs never share a lock, however long).
std::string LockPath(const std::string& uri) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  std::string readable;
  for (unsigned char c : uri) {
    hash = (hash ^ c) * 0x100000001b3ULL;
    if (readable.size() < 60) readable += std::isalnum(c) || c == '.' || c == '-' ? char(c) : '_';
  }
  return fmt::format("{}/host-{}-{:016x}.lock", LockDirectory(), readable, hash);
}

std::string ReadHolder(int fd) {
  char buffer[512];
  ssize_t n = ::pread(fd, buffer, sizeof buffer - 1, 0);
  if (n <= 0) return "another run";
  std::string text(buffer, static_cast<std::size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) text.pop_back();
  return text.empty() ? "another run" : text;
}

StatusOr<int> OpenLockFile(const std::string& uri) {
  const std::string dir = LockDirectory();
  if (!UsableDirectory(dir, 0700)) {
    return Status::Internal("cannot use the lock directory " + dir + ": " + std::strerror(errno) +
                            " (set VIRTCONVERGE_LOCK_DIR)");
  }
  const std::string path = LockPath(uri);
  // Readable by all (a waiting run reads the holder's note); another user's file is locked
  // through a read-only descriptor (flock needs no write access), its note left as it is.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0 && errno == EACCES) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return Status::Internal("cannot open the host lock " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
    ::close(fd);
    return Status::Internal("the host lock " + path +
                            " is not a plain file of its own (a link or a device): refusing it");
  }
  return fd;
}

}  // namespace

StatusOr<HostLock> HostLock::Acquire(const std::string& uri, const std::string& purpose,
                                     std::chrono::milliseconds wait) {
  if (PrivateHost(uri)) return HostLock(-1);
  StatusOr<int> opened = OpenLockFile(uri);
  if (!opened.ok()) return opened.status();
  const int fd = *opened;
  // Even "refuse at once" tries for a moment: a plan asking who holds the lock holds it shared
  // for a few microseconds.
  const auto deadline =
      std::chrono::steady_clock::now() + std::max<std::chrono::milliseconds>(wait, kProbeGrace);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      Status failed =
          Status::Internal(std::string("cannot lock the host: ") + std::strerror(errno));
      ::close(fd);
      return failed;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string holder = ReadHolder(fd);
      ::close(fd);
      return Status::FailedPrecondition(
                 fmt::format("{} is busy: {} holds its lock (waited {} s); nothing was changed, "
                             "try again when it is done",
                             uri, holder,
                             std::chrono::duration_cast<std::chrono::seconds>(wait).count()))
          .WithErrorCode(ErrorCode::kHostBusy);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Held: say who holds it, for the run that waits and for plans.
  std::string note = fmt::format("pid {}, {}, since {}\n", ::getpid(), purpose, Rfc3339UtcNow());
  if ((::fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR &&
      (::ftruncate(fd, 0) != 0 || ::pwrite(fd, note.data(), note.size(), 0) < 0)) {
    // The lock holds without the note; a waiting run then says "another run".
  }
  return HostLock(fd);
}

std::optional<std::string> HostLock::Holder(const std::string& uri) {
  if (PrivateHost(uri)) return std::nullopt;
  StatusOr<int> opened = OpenLockFile(uri);
  if (!opened.ok()) return std::nullopt;
  const int fd = *opened;
  std::optional<std::string> holder;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    holder = ReadHolder(fd);
  } else {
    ::flock(fd, LOCK_UN);
  }
  ::close(fd);
  return holder;
}

HostLock::HostLock(HostLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

HostLock& HostLock::operator=(HostLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

HostLock::~HostLock() {
  if (fd_ >= 0) {
    if ((::fcntl(fd_, F_GETFL) & O_ACCMODE) == O_RDWR) {
      // The holder's note goes with the lock; if it cannot be cleared, a stale note is all.
      [[maybe_unused]] const int cleared = ::ftruncate(fd_, 0);
    }
    ::close(fd_);  // closing the only descriptor releases the flock
  }
}

}  // namespace vc::cli
