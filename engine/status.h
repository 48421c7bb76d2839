// Errors as values: Status says whether an operation worked and, if not, why, with a stable
// ErrorCode and whether trying again may help; StatusOr<T> carries a value or the Status that
// prevented it.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include "engine/error_code.h"

namespace vc {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk,
    kInvalidArgument,     // bad input: a document, a flag, a plan file
    kNotFound,            // the named resource does not exist
    kFailedPrecondition,  // the world is not as the plan assumed (changed since plan)
    kUnavailable,         // transient: daemon unreachable or busy; retrying may help
    kUnsupported,         // the driver or this version cannot do it
    kInternal,            // an operation failed for another reason
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) {
    return {Code::kFailedPrecondition, std::move(msg)};
  }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status Unsupported(std::string msg) { return {Code::kUnsupported, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  /// The stable code front ends branch on: set with WithErrorCode, else derived from code().
  ErrorCode error_code() const;
  /// True when the failure may go away by itself (a busy, restarting or unreachable daemon).
  bool transient() const { return IsTransient(error_code()); }

  /// Returns a copy whose message starts with `context: `.
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    Status s = *this;
    s.message_ = context + ": " + message_;
    return s;
  }

  /// Returns a copy whose message ends with `; note` (what happened next, what to do).
  Status WithNote(const std::string& note) const {
    if (ok()) return *this;
    Status s = *this;
    s.message_ += "; " + note;
    return s;
  }

  /// Returns a copy carrying `error_code` (an Ok status stays Ok).
  Status WithErrorCode(ErrorCode error_code) const {
    Status s = *this;
    if (!ok()) s.error_code_ = error_code;
    return s;
  }

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
  std::optional<ErrorCode> error_code_;
};

inline ErrorCode Status::error_code() const {
  if (error_code_) return *error_code_;
  switch (code_) {
    case Code::kOk:
      return ErrorCode::kNone;
    case Code::kInvalidArgument:
      return ErrorCode::kInvalidValue;
    case Code::kNotFound:
      return ErrorCode::kNotFound;
    case Code::kUnavailable:
      return ErrorCode::kConnectionFailed;
    case Code::kUnsupported:
      return ErrorCode::kUnsupported;
    case Code::kFailedPrecondition:
    case Code::kInternal:
      return ErrorCode::kOperationFailed;
  }
  return ErrorCode::kInternal;
}

/// A value, or the error that prevented it. Never Ok without a value: constructing one from an
/// Ok status gives an Internal error instead. Reading the value of an error is a programming
/// error and stops the process with a message rather than handing out an empty value.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T v) : value_(std::move(v)) {}  // NOLINT: implicit by design
  StatusOr(Status status)                  // NOLINT: implicit by design
      : status_(status.ok() ? Status::Internal("an Ok status was returned without a value")
                            : std::move(status)) {}

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return Checked(); }
  const T& value() const& { return Checked(); }
  T&& value() && { return std::move(Checked()); }
  T value_or(T fallback) const { return value_.has_value() ? *value_ : fallback; }
  T* operator->() { return &Checked(); }
  const T* operator->() const { return &Checked(); }
  T& operator*() & { return Checked(); }
  const T& operator*() const& { return Checked(); }

 private:
  T& Checked() {
    if (!value_) Die();
    return *value_;
  }
  const T& Checked() const {
    if (!value_) Die();
    return *value_;
  }
  [[noreturn]] void Die() const {
    std::fprintf(stderr, "virtconverge: internal error: value of a failed result read: %s\n",
                 status_.message().c_str());
    std::abort();
  }

  std::optional<T> value_;
  Status status_;
};

}  // namespace vc
