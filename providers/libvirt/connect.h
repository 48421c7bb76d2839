// Opening a libvirt connection with deadlines: the open itself must answer within a timeout, and
// afterwards libvirt's keepalive closes a connection whose daemon stops answering, so every RPC
// of a run fails within about the same time instead of waiting forever (a stopped or wedged
// libvirtd accepts on its socket and never replies).
#pragma once

#include <chrono>
#include <string>

#include "engine/status.h"
#include "providers/libvirt/libvirt_handles.h"

namespace vc::libvirt {

/// How long a daemon may take to answer: the open, and (through keepalive) any later call.
inline constexpr std::chrono::seconds kDefaultDaemonTimeout{15};

/// Opens `uri`. Fails with kConnectionFailed when the daemon refuses or cannot be reached, and
/// with kTimeout when it does not answer within `timeout` (the open goes on in the background
/// and its connection, if it ever comes, is closed). Enables keepalive so that a daemon which
/// stops answering later closes the connection within about `timeout`.
StatusOr<Connection> ConnectWithDeadline(const std::string& uri, std::chrono::seconds timeout);

}  // namespace vc::libvirt
