#include "reckon/runtime/error.h"

namespace reckon {

const char* to_string(StatusCode code) noexcept {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kOutOfRange: return "out of range";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kNotCompiled: return "not compiled";
    case StatusCode::kNoDevice: return "no device";
    case StatusCode::kOutOfMemory: return "out of memory";
    case StatusCode::kCudaError: return "CUDA error";
    case StatusCode::kCublasError: return "cuBLAS error";
    case StatusCode::kCudnnError: return "cuDNN error";
    case StatusCode::kIoError: return "I/O error";
    case StatusCode::kDataError: return "data error";
    case StatusCode::kNumericError: return "numeric error";
    case StatusCode::kUnavailable: return "unavailable";
  }
  return "unknown status";
}

namespace {
std::string format_error(StatusCode code, const std::string& message, const char* file, int line) {
  return detail::concat(file, ":", line, ": [", to_string(code), "] ", message);
}
}  // namespace

Error::Error(StatusCode code, const std::string& message, const char* file, int line)
    : std::runtime_error(format_error(code, message, file, line)),
      code_(code),
      message_(message),
      file_(file),
      line_(line) {}

namespace detail {

void throw_error(StatusCode code, const std::string& message, const char* file, int line) {
  throw Error(code, message, file, line);
}

void throw_not_compiled(const char* operation, const char* backend, const char* file, int line) {
  throw Error(StatusCode::kNotCompiled,
              concat(operation, ": this build of reckon has no ", backend,
                     " support (reconfigure with -DRECKON_CUDA=ON on a machine with the CUDA toolkit)"),
              file, line);
}

}  // namespace detail
}  // namespace reckon
