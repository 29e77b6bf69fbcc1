// Errors: a status code for every failure, and reckon::Error, the one exception type at the library surface.
//
// Device code cannot throw: kernels record failures in device flags (for example the first out-of-range index),
// and the host launcher turns them into an Error after the stream is synchronised. Support queries return a
// Status with a readable reason instead of throwing.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace reckon {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // shapes, dtypes, devices or values the operation does not accept
  kOutOfRange,       // an index or id outside its table
  kUnsupported,      // a valid request this implementation does not handle (see the reason)
  kNotCompiled,      // the library was built without the needed backend (CUDA, cuDNN)
  kNoDevice,         // a CUDA device was asked for and none answers
  kOutOfMemory,
  kCudaError,
  kCublasError,
  kCudnnError,
  kIoError,    // files: missing, unreadable, truncated
  kDataError,  // malformed input data (rows, checkpoints, vector files)
  kNumericError,  // NaN or Inf where a finite value is required
  kUnavailable,   // a part of a service failed, timed out or is isolated (the ensemble's components)
};

const char* to_string(StatusCode code) noexcept;

// The result of an operation that reports rather than throws (support queries, device-side checks).
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return {}; }

  bool is_ok() const noexcept { return code_ == StatusCode::kOk; }
  explicit operator bool() const noexcept { return is_ok(); }
  StatusCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

class Error : public std::runtime_error {
 public:
  Error(StatusCode code, const std::string& message, const char* file, int line);

  StatusCode code() const noexcept { return code_; }
  const char* file() const noexcept { return file_; }
  int line() const noexcept { return line_; }
  // The message without the "file:line: [code]" prefix.
  const std::string& message() const noexcept { return message_; }

 private:
  StatusCode code_;
  std::string message_;
  const char* file_;
  int line_;
};

namespace detail {

template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

[[noreturn]] void throw_error(StatusCode code, const std::string& message, const char* file, int line);

// Thrown by a dispatcher asked to run on a backend this build lacks.
[[noreturn]] void throw_not_compiled(const char* operation, const char* backend, const char* file, int line);

}  // namespace detail
}  // namespace reckon

// Throw reckon::Error(code) with a message assembled from the remaining arguments (streamed, in order).
#define RECKON_THROW(code, ...) \
  ::reckon::detail::throw_error((code), ::reckon::detail::concat(__VA_ARGS__), __FILE__, __LINE__)

// Argument validation at the library surface: throws kInvalidArgument naming the failed condition.
#define RECKON_CHECK_ARG(cond, ...)                                                                    \
  do {                                                                                                \
    if (!(cond)) {                                                                                    \
      ::reckon::detail::throw_error(::reckon::StatusCode::kInvalidArgument,                          \
                                    ::reckon::detail::concat(__VA_ARGS__, " (failed: " #cond ")"), \
                                    __FILE__, __LINE__);                                              \
    }                                                                                                 \
  } while (0)

// Turn a Status into an Error at the surface.
#define RECKON_THROW_IF_ERROR(status_expr)                                                          \
  do {                                                                                            \
    const ::reckon::Status reckon_status_ = (status_expr);                                        \
    if (!reckon_status_.is_ok()) {                                                                \
      ::reckon::detail::throw_error(reckon_status_.code(), reckon_status_.message(), __FILE__, __LINE__); \
    }                                                                                             \
  } while (0)
