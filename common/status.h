// Status and Result<T>: the one error type of gpupool's own code (C++20 has no std::expected).
//
// Errors from libraries are translated once, at the edge where they enter: CUresult in the driver
// shim, grpc::Status at RPC boundaries, HTTP codes in the operator's Kubernetes client. Code in the
// middle passes Status along and never throws.
//
// Thread-safety: values; safe to copy between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace gpupool {

enum class Code : std::uint8_t {
  kOk = 0,
  kInvalidArgument,     // the caller sent something malformed
  kNotFound,            // a named object does not exist
  kAlreadyExists,       // create of an existing object
  kPermissionDenied,    // authenticated, not allowed
  kUnauthenticated,     // no or bad credentials
  kResourceExhausted,   // quota, capacity, memory
  kFailedPrecondition,  // state does not allow the operation
  kConflict,            // optimistic-concurrency conflict (stale version)
  kUnavailable,         // peer unreachable, try again
  kDeadlineExceeded,    // timed out
  kUnimplemented,       // feature not supported
  kInternal,            // bug or broken invariant
  kCancelled,           // stopped on request
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
  static Status ResourceExhausted(std::string m) { return {Code::kResourceExhausted, std::move(m)}; }
  static Status FailedPrecondition(std::string m) { return {Code::kFailedPrecondition, std::move(m)}; }
  static Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) { return {Code::kDeadlineExceeded, std::move(m)}; }
  static Status Unimplemented(std::string m) { return {Code::kUnimplemented, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
  static Status Cancelled(std::string m) { return {Code::kCancelled, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: percent must be 1..100" (or "OK").
  std::string ToString() const;
  // Prefixes the message with context: Status::NotFound("x").Annotate("loading config") reads
  // "NotFound: loading config: x".
  Status Annotate(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Result<T> holds a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) v_ = Status::Internal("Result constructed from OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace gpupool

// Returns early from the enclosing function when `expr` (a Status) is not OK.
#define GPUPOOL_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::gpupool::Status gpupool_status_ = (expr);        \
    if (!gpupool_status_.ok()) return gpupool_status_; \
  } while (0)

#define GPUPOOL_CONCAT_INNER_(a, b) a##b
#define GPUPOOL_CONCAT_(a, b) GPUPOOL_CONCAT_INNER_(a, b)
// GPUPOOL_ASSIGN_OR_RETURN(auto x, MakeX()): declares x from a Result, or returns its Status.
#define GPUPOOL_ASSIGN_OR_RETURN(decl, expr)                    \
  auto GPUPOOL_CONCAT_(gpupool_result_, __LINE__) = (expr);     \
  if (!GPUPOOL_CONCAT_(gpupool_result_, __LINE__).ok())         \
    return GPUPOOL_CONCAT_(gpupool_result_, __LINE__).status(); \
  decl = std::move(GPUPOOL_CONCAT_(gpupool_result_, __LINE__)).value()
