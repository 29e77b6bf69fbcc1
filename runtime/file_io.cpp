#include "reckon/runtime/file_io.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "reckon/runtime/error.h"

namespace reckon {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) RECKON_THROW(StatusCode::kIoError, "cannot open ", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) RECKON_THROW(StatusCode::kIoError, "error while reading ", path);
  return buffer.str();
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  write_file_atomically(path, [bytes](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const std::string temporary = path + ".tmp";
  try {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) RECKON_THROW(StatusCode::kIoError, "cannot write ", temporary);
    write(out);
    out.flush();
    if (!out) RECKON_THROW(StatusCode::kIoError, "error writing ", temporary);
  } catch (...) {
    // The target is untouched; the partial temporary file is of no use to anyone.
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) RECKON_THROW(StatusCode::kIoError, "cannot move ", temporary, " to ", path, ": ", ec.message());
}

std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string_view checksummed_body(std::string_view file, const std::string& path) {
  std::uint64_t stored = 0;
  if (file.size() >= 8) std::memcpy(&stored, file.data() + file.size() - 8, 8);
  const std::string_view body = file.substr(0, file.size() >= 8 ? file.size() - 8 : 0);
  if (file.size() < 8 || fnv1a(body) != stored) {
    RECKON_THROW(StatusCode::kDataError, path, ": checksum mismatch (truncated or corrupted checkpoint)");
  }
  return body;
}

void ByteReader::check(std::size_t n) const {
  if (n > bytes_.size() - at_) RECKON_THROW(StatusCode::kDataError, origin_, ": truncated ", what_);
}

void print_progress_line(int epoch, int epochs, double fraction, double rate, const char* unit, double eta_seconds) {
  constexpr int kWidth = 30;
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(kWidth * fraction);
  std::fprintf(stderr, "\repoch %d/%d [%-*s] %3d%%  %.0f %s/s  ETA %.0fs ", epoch, epochs, kWidth,
               std::string(static_cast<std::size_t>(filled), '=').c_str(), static_cast<int>(100 * fraction), rate,
               unit, eta_seconds);
  std::fflush(stderr);
}

void print_status_line(const std::string& line) {
  if (isatty(STDERR_FILENO)) std::fputs("\r\033[K", stderr);  // clear the carriage-returned progress line
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void split_fields(std::string_view line, char delimiter, std::vector<std::string_view>& out) {
  out.clear();
  std::size_t start = 0;
  while (true) {
    const std::size_t at = line.find(delimiter, start);
    out.push_back(line.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return;
    start = at + 1;
  }
}

std::vector<std::string> split_quoted_fields(std::string_view line, char delimiter) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == delimiter) {
      out.emplace_back();
    } else if (c != '\r') {
      out.back() += c;
    }
  }
  return out;
}

}  // namespace reckon
