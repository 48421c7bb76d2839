#include "providers/libvirt/connect.h"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "providers/libvirt/libvirt_error.h"

namespace vc::libvirt {
namespace {

// Keepalive needs libvirt's event loop running: one thread for the process, started once
// before the first connection, serving every connection's keepalive timers.
void StartEventLoop() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (virEventRegisterDefaultImpl() < 0) return;  // no keepalive; opens still have a deadline
    std::thread([] {
      for (;;) virEventRunDefaultImpl();
    }).detach();
  });
}

// What the opening thread hands over; shared, so a caller that gave up leaves it to the opener.
struct Pending {
  std::mutex mutex;
  std::condition_variable done;
  bool finished = false;
  bool abandoned = false;
  virConnectPtr conn = nullptr;
  Status error = Status::Ok();
};

}  // namespace

StatusOr<Connection> ConnectWithDeadline(const std::string& uri, std::chrono::seconds timeout) {
  StartEventLoop();
  auto pending = std::make_shared<Pending>();
  std::thread([pending, uri] {
    virConnectPtr conn = virConnectOpen(uri.c_str());
    Status error =
        conn == nullptr ? LastError("cannot connect to libvirt at " + uri) : Status::Ok();
    std::lock_guard<std::mutex> lock(pending->mutex);
    if (pending->abandoned) {
      if (conn != nullptr) virConnectClose(conn);  // too late: nobody waits for it
      return;
    }
    pending->conn = conn;
    pending->error = error;
    pending->finished = true;
    pending->done.notify_one();
  }).detach();

  std::unique_lock<std::mutex> lock(pending->mutex);
  if (!pending->done.wait_for(lock, timeout, [&] { return pending->finished; })) {
    pending->abandoned = true;
    return Status::Unavailable("libvirtd at " + uri + " did not answer within " +
                               std::to_string(timeout.count()) +
                               " s (is it stopped or wedged?); nothing was changed")
        .WithErrorCode(ErrorCode::kTimeout);
  }
  if (pending->conn == nullptr) {
    return Status::Unavailable(pending->error.message() +
                               " (is libvirtd running, and may this user use it?)")
        .WithErrorCode(ErrorCode::kConnectionFailed);
  }
  Connection conn(pending->conn);
  // Keepalive: a probe every interval; after `count` unanswered ones the connection closes and
  // every call waiting on it fails (kConnectionLost). The embedded test driver has none.
  const int interval =
      static_cast<int>(std::max<std::chrono::seconds::rep>(1, timeout.count() / 3));
  virConnectSetKeepAlive(conn.get(), interval, 2);
  return conn;
}

}  // namespace vc::libvirt
