// Shared by the fuzz targets. Each target defines LLVMFuzzerTestOneInput: the input must either be accepted or be
// refused with a reckon::Error (the library's one error path, with a message for the user). Anything else - another
// exception type, a crash, a sanitizer report, an allocation sized by a number in the input - is a bug.
//
// Built two ways (tests/fuzz/CMakeLists.txt): with libFuzzer under clang (RECKON_FUZZ=ON, scripts/fuzz.sh), and
// with fuzz_replay.cpp as main, which runs the checked-in corpus as a CTest test in every build.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"

namespace reckon::fuzz {

// Runs body; a reckon::Error is a clear refusal, any other exception aborts (the fuzzer records the input).
template <typename Body>
void accept_or_refuse(const char* what, Body&& body) {
  try {
    body();
  } catch (const Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: escaped as %s instead of reckon::Error: %s\n", what, typeid(e).name(), e.what());
    std::abort();
  }
}

// The readers under test take paths: the input goes to a file private to this process.
inline std::string input_file(std::string_view bytes, const char* suffix = "") {
  const char* dir = std::getenv("TMPDIR");
  std::string path = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/reckon_fuzz_" +
                     std::to_string(::getpid()) + suffix;
  write_file_atomically(path, bytes);
  return path;
}

// Inputs made of two files: the first, a line "--", the second (empty when the marker is absent).
inline std::pair<std::string_view, std::string_view> two_files(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find("\n--\n");
  if (split == std::string_view::npos) return {input, std::string_view()};
  return {input.substr(0, split), input.substr(split + 4)};
}

}  // namespace reckon::fuzz
