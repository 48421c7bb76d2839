#include "providers/libvirt/libvirt_error.h"

#include <libvirt/virterror.h>

#include <string_view>

namespace vc::libvirt {

void SilenceDefaultErrorPrinting() {
  virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
}

bool LastErrorIsUnsupportedFlags() {
  virErrorPtr e = virGetLastError();
  return e != nullptr && e->code == VIR_ERR_INVALID_ARG && e->message != nullptr &&
         std::string_view(e->message).find("unsupported flags") != std::string_view::npos;
}

bool LastErrorIsNotFound() {
  virErrorPtr e = virGetLastError();
  if (e == nullptr) return false;
  switch (e->code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_STORAGE_POOL:
    case VIR_ERR_NO_STORAGE_VOL:
    case VIR_ERR_NO_NETWORK:
    case VIR_ERR_NO_SECRET:
      return true;
    default:
      return false;
  }
}

Status LastError(const std::string& context) {
  virErrorPtr e = virGetLastError();
  if (e == nullptr) return Status::Internal(context + ": libvirt reported no error detail");
  std::string message = context + ": " + (e->message ? e->message : "unknown libvirt error");
  // Errors of the RPC layer itself (the socket closed, keepalive timed out, end of file) mean
  // the daemon is gone, whatever their code: the run cannot go on, a rerun can. (A daemon's
  // error relayed from its own RPC to another daemon also says VIR_FROM_RPC: the provider
  // confirms a lost connection with virConnectIsAlive before it is believed.)
  if (e->domain == VIR_FROM_RPC && e->code != VIR_ERR_AUTH_FAILED) {
    return Status::Unavailable(message).WithErrorCode(ErrorCode::kConnectionLost);
  }
  switch (e->code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_STORAGE_POOL:
    case VIR_ERR_NO_STORAGE_VOL:
    case VIR_ERR_NO_NETWORK:
    case VIR_ERR_NO_SECRET:
      return Status::NotFound(message);
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_RPC:
      // The connection itself failed (the daemon went away or stopped answering).
      return Status::Unavailable(message).WithErrorCode(ErrorCode::kConnectionLost);
    case VIR_ERR_SYSTEM_ERROR:
      // An OS error: of the connection when it comes from the remote driver, else of the
      // operation (a directory that cannot be made, a full disk).
      return e->domain == VIR_FROM_REMOTE
                 ? Status::Unavailable(message).WithErrorCode(ErrorCode::kConnectionLost)
                 : Status::Internal(message).WithErrorCode(ErrorCode::kOperationFailed);
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_AUTH_UNAVAILABLE:
      return Status::Unavailable(message).WithErrorCode(ErrorCode::kConnectionFailed);
    case VIR_ERR_OPERATION_TIMEOUT:
    case VIR_ERR_AGENT_UNRESPONSIVE:
      return Status::Unavailable(message).WithErrorCode(ErrorCode::kTimeout);
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_OPERATION_UNSUPPORTED:
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
      return Status::Unsupported(message);
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_CONFIG_UNSUPPORTED:
      return Status::InvalidArgument(message);
    default:
      return Status::Internal(message);
  }
}

}  // namespace vc::libvirt
