// Decompresses a gzip stream chunk by chunk, so a `.gz` artifact is never held in memory.
//
// zlib is loaded with dlopen on the first Gunzip, as libcurl is (curl_api.hpp): only the check
// helper decompresses, and every process of a molt program (an idle master above all, issue 13)
// is spared mapping it. <zlib.h> gives the types and constants.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <functional>
#include <string>

namespace molt::internal {

class Gunzip {
 public:
  // Receives decompressed bytes; returns false to stop.
  using Output = std::function<bool(const char* data, std::size_t size)>;

  Gunzip();
  ~Gunzip();
  Gunzip(const Gunzip&) = delete;
  Gunzip& operator=(const Gunzip&) = delete;

  // Feeds the next compressed chunk. False: corrupt data (error() says why) or `out` refused.
  bool write(const char* data, std::size_t size, const Output& out);
  // Checks that the stream ended where the body did. False: the body stopped mid-stream.
  bool finish();
  std::string error() const { return error_; }

 private:
  z_stream stream_{};
  bool ready_ = false;      // inflateInit2 succeeded
  bool in_member_ = false;  // inside a gzip member: its end has not been seen yet
  std::string error_;
};

}  // namespace molt::internal
