#include "fetchers/gunzip.hpp"

#include <array>

#include "util/shared_library.hpp"

namespace molt::internal {
namespace {

// 15 window bits, +32: zlib detects a gzip (or zlib) header itself.
constexpr int kWindowBitsAutoHeader = 15 + 32;
constexpr char kZlibSoname[] = "libz.so.1";

// The zlib functions Gunzip calls, resolved once per process; never closed.
struct Zlib {
  decltype(&::inflateInit2_) init2 = nullptr;
  decltype(&::inflate) inflate = nullptr;
  decltype(&::inflateReset) reset = nullptr;
  decltype(&::inflateEnd) end = nullptr;
  decltype(&::zError) error_text = nullptr;
  std::string error;  // why it cannot be used; empty when loaded
};

Zlib load_zlib() {
  Zlib z;
  SharedLibrary library(kZlibSoname);
  library.need("inflateInit2_", z.init2);
  library.need("inflate", z.inflate);
  library.need("inflateReset", z.reset);
  library.need("inflateEnd", z.end);
  library.need("zError", z.error_text);
  if (!library.ok()) {
    z = Zlib{};
    z.error = "gzip: " + library.error();
  }
  return z;
}

const Zlib& zlib() {
  static const Zlib z = load_zlib();
  return z;
}

}  // namespace

Gunzip::Gunzip() {
  if (!zlib().error.empty()) {
    error_ = zlib().error;
    return;
  }
  // What the inflateInit2 macro expands to, through the loaded library.
  ready_ = zlib().init2(&stream_, kWindowBitsAutoHeader, ZLIB_VERSION,
                        static_cast<int>(sizeof(z_stream))) == Z_OK;
  if (!ready_) error_ = "gzip: cannot initialise zlib";
}

Gunzip::~Gunzip() {
  if (ready_) zlib().end(&stream_);
}

bool Gunzip::write(const char* data, std::size_t size, const Output& out) {
  if (!ready_ || !error_.empty()) return false;
  stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  stream_.avail_in = static_cast<uInt>(size);
  std::array<char, 16384> buffer;
  while (stream_.avail_in > 0) {
    if (!in_member_) {
      // A gzip file may hold several members back to back (what `cat a.gz b.gz` makes).
      if (stream_.total_in > 0 && zlib().reset(&stream_) != Z_OK) {
        error_ = "corrupt gzip body: cannot restart after a member";
        return false;
      }
      in_member_ = true;
    }
    stream_.next_out = reinterpret_cast<Bytef*>(buffer.data());
    stream_.avail_out = static_cast<uInt>(buffer.size());
    int rc = zlib().inflate(&stream_, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      error_ =
          std::string("corrupt gzip body: ") + (stream_.msg ? stream_.msg : zlib().error_text(rc));
      return false;
    }
    std::size_t produced = buffer.size() - stream_.avail_out;
    if (produced > 0 && !out(buffer.data(), produced)) return false;
    if (rc == Z_STREAM_END) in_member_ = false;
    if (rc == Z_BUF_ERROR && produced == 0) break;  // needs more input than this chunk has
  }
  return true;
}

bool Gunzip::finish() {
  if (!error_.empty()) return false;
  if (in_member_ || stream_.total_in == 0) {
    error_ = "corrupt gzip body: it ends before the gzip stream does";
    return false;
  }
  return true;
}

}  // namespace molt::internal
