// Small file and text helpers shared by the models: whole-file reads, atomic writes (a temporary file renamed over
// the target, so an interrupted save never leaves a half-written file), the FNV-1a checksum of saved files, a
// bounds-checked reader and an appender for binary checkpoint bodies, splitting a line on a delimiter without
// copying, and the training progress line.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace reckon {

// The whole file; throws kIoError when it cannot be opened or read.
std::string read_file(const std::string& path);
// Writes `bytes` to path + ".tmp", then renames it to `path`; throws kIoError on any failure.
void write_file_atomically(const std::string& path, std::string_view bytes);
// The same, streaming: `write` fills the temporary file (for outputs too large to build in memory first).
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);
// 64-bit FNV-1a.
std::uint64_t fnv1a(std::string_view bytes);
// A checksummed file's body: the bytes before its trailing 8-byte FNV-1a of them. Throws kDataError naming `path`
// when the sum does not match (a truncated or corrupted file).
std::string_view checksummed_body(std::string_view file, const std::string& path);
// The fields of `line` between `delimiter`s (an empty line is one empty field); views into `line`.
void split_fields(std::string_view line, char delimiter, std::vector<std::string_view>& out);
// RFC 4180 fields: delimiters inside double quotes, "" for a quote, a trailing '\r' dropped (MovieLens' titles).
std::vector<std::string> split_quoted_fields(std::string_view line, char delimiter);
// A whole field read as a number (std::from_chars: no sign '+', no spaces); false when anything is left over.
template <typename T>
bool parse_field(std::string_view field, T& value) {
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  return ec == std::errc() && end == field.data() + field.size();
}

// Appends a value's bytes (native byte order) to a binary body.
template <typename T>
void append_bytes(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// Reads a binary body front to back; running past its end throws kDataError "<origin>: truncated <what>".
class ByteReader {
 public:
  ByteReader(std::string_view bytes, std::string origin, std::string what)
      : bytes_(bytes), origin_(std::move(origin)), what_(std::move(what)) {}
  void take(void* out, std::size_t n) {
    check(n);
    std::memcpy(out, bytes_.data() + at_, n);
    at_ += n;
  }
  template <typename T>
  T get() {
    T value{};
    take(&value, sizeof(T));
    return value;
  }
  std::string bytes(std::size_t n) {
    check(n);
    std::string s(bytes_.substr(at_, n));
    at_ += n;
    return s;
  }
  // Bytes not yet read: what a count read from the body is checked against before anything is sized by it.
  std::size_t remaining() const { return bytes_.size() - at_; }

 private:
  void check(std::size_t n) const;

  std::string_view bytes_;
  std::string origin_, what_;
  std::size_t at_ = 0;
};

// One carriage-returned progress line on stderr: "epoch e/E [====   ]  42%  1234 <unit>/s  ETA 5s".
void print_progress_line(int epoch, int epochs, double fraction, double rate, const char* unit, double eta_seconds);

// A line that stays on stderr (an epoch's summary), replacing the progress line on a terminal; printed whether or
// not stderr is a terminal, so a log or a pipe still shows training advance.
void print_status_line(const std::string& line);

}  // namespace reckon
