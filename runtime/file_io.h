// Small file and text helpers shared by the models: whole-file reads, atomic writes (a temporary file renamed over
// the target, so an interrupted save never leaves a half-written file), the FNV-1a checksum of saved files, and
// splitting a line on a delimiter without copying.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace reckon {

// The whole file; throws kIoError when it cannot be opened or read.
std::string read_file(const std::string& path);
// Writes `bytes` to path + ".tmp", then renames it to `path`; throws kIoError on any failure.
void write_file_atomically(const std::string& path, std::string_view bytes);
// 64-bit FNV-1a.
std::uint64_t fnv1a(std::string_view bytes);
// The fields of `line` between `delimiter`s (an empty line is one empty field); views into `line`.
void split_fields(std::string_view line, char delimiter, std::vector<std::string_view>& out);

}  // namespace reckon
