// One writer per host: every run that changes a host (apply from the CLI, `serve`, and so Puppet,
// Salt and the HTTP server) holds an exclusive lock named after the host's connection URI while it
// observes, plans and applies, so two runs never interleave their steps. Plans take no lock; they
// ask who holds it and say so.
//
// The lock is an flock(2) on a file in the lock directory ($VIRTCONVERGE_LOCK_DIR, else
// /run/virtconverge when writable, else $XDG_RUNTIME_DIR/virtconverge, else
// /tmp/virtconverge-UID). The kernel drops it when the holder exits, however it exits, so a lock is
// never stale. Its honest limit: it is seen by every run on this machine; two machines driving
// the same remote libvirtd do not see each other's lock (docs/concepts.md).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "engine/status.h"

namespace vc::cli {

class HostLock {
 public:
  /// Takes the lock of the host at `uri` for `purpose` ("apply", "serve apply"), waiting up to
  /// `wait` for a run that holds it (zero: refuse at once). A host that is private to this
  /// process (the test:// driver) needs none. Fails with kHostBusy naming the holder (its pid,
  /// purpose and start time) when the wait ends, or kInternal when the lock directory cannot be
  /// used.
  static StatusOr<HostLock> Acquire(const std::string& uri, const std::string& purpose,
                                    std::chrono::milliseconds wait);

  /// Who holds the lock of `uri` now ("pid 123, apply, since 2026-12-02T14:00:00Z"), if anyone.
  static std::optional<std::string> Holder(const std::string& uri);

  HostLock(HostLock&& other) noexcept;
  HostLock& operator=(HostLock&& other) noexcept;
  HostLock(const HostLock&) = delete;
  HostLock& operator=(const HostLock&) = delete;
  ~HostLock();

 private:
  explicit HostLock(int fd) : fd_(fd) {}
  int fd_ = -1;  // -1: no lock held (a private host)
};

/// The default wait of a run for the host's lock.
inline constexpr std::chrono::seconds kDefaultLockWait{120};

}  // namespace vc::cli
