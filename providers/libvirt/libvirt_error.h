// libvirt errors as Status values. libvirt keeps the last error per thread, so LastError must be
// called on the failing thread, right after the failing call.
#pragma once

#include <string>

#include "engine/status.h"

namespace vc::libvirt {

/// Stops libvirt printing errors to stderr itself; the engine reports them. Call once at start-up.
void SilenceDefaultErrorPrinting();

/// The calling thread's last libvirt error as a Status whose message starts with `context`.
/// Codes map to: no such domain/pool/volume/network -> NotFound; connection problems ->
/// Unavailable; unsupported operations -> Unsupported; invalid XML or arguments ->
/// InvalidArgument; anything else -> Internal.
Status LastError(const std::string& context);

/// True if the calling thread's last libvirt error is "unsupported flags": a driver (the test
/// driver, mostly) that does not know a flag the call passed. Callers then retry without it.
bool LastErrorIsUnsupportedFlags();

/// True if the calling thread's last libvirt error says the object does not exist.
bool LastErrorIsNotFound();

}  // namespace vc::libvirt
