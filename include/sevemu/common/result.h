// Result<T>: a value or an Error, the return type of every fallible call below the firmware
// command boundary (where errors become FwStatus codes). No exceptions cross a layer.
//
// Thread safety: plain value types; no shared state.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace sevemu {

enum class ErrorCode {
  kInvalidArgument,  // caller passed something malformed or out of range
  kInvalidKey,       // key material outside its valid range, wrong curve or size
  kAuthFailed,       // MAC/tag/signature did not verify
  kRefused,          // well-formed but not permitted (e.g. a TCB above the current one)
  kCrypto,           // the crypto library reported an internal failure
  kIo,               // the operating system refused a read/write/rename
  kNotFound,         // a file or item that must exist does not
  kCorrupt,          // stored data exists but does not parse or is inconsistent
  kAlreadyExists,    // would overwrite something that must be kept
  kBusy,             // a lock is held by someone else
};

const char* ErrorCodeName(ErrorCode code);

// An error with a one-line, human-readable message. Messages never contain key material.
class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Returns a copy whose message is prefixed with `context: `.
  Error Context(const std::string& context) const { return {code_, context + ": " + message_}; }

 private:
  ErrorCode code_;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design, like std::expected
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok().
  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // REQUIRES: !ok().
  const Error& error() const {
    assert(!ok());
    return std::get<Error>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT
  static Status Ok() { return {}; }
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(!ok());
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

}  // namespace sevemu

// Propagates the error of a Result/Status expression, otherwise continues.
#define SEVEMU_RETURN_IF_ERROR(expr)                         \
  do {                                                       \
    auto sevemu_status_ = (expr);                            \
    if (!sevemu_status_.ok()) return sevemu_status_.error(); \
  } while (0)

#define SEVEMU_CONCAT_INNER_(a, b) a##b
#define SEVEMU_CONCAT_(a, b) SEVEMU_CONCAT_INNER_(a, b)
// Declares `lhs` from the value of a Result expression or returns its error.
#define SEVEMU_ASSIGN_OR_RETURN(lhs, expr) \
  SEVEMU_ASSIGN_OR_RETURN_IMPL_(SEVEMU_CONCAT_(sevemu_result_, __LINE__), lhs, expr)
#define SEVEMU_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.error();                  \
  lhs = std::move(tmp).value()
