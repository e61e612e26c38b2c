// SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104), self-contained.
//
// The master names a build that is not ELF (a script, a JAR) by its content's SHA-256 at start,
// and the check helper signs S3 requests with HMAC-SHA-256: neither is worth loading libcrypto,
// which the master must never map (minisign/openssl_api.hpp). Not constant-time: it hashes
// public files and AWS request keys, as OpenSSL's portable C code does.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace molt::internal {

class Sha256 {
 public:
  using Digest = std::array<std::uint8_t, 32>;

  void update(const void* data, std::size_t size);
  Digest finish();  // the digest; the object is then ready for another message

  static Digest of(std::string_view data);

 private:
  void block(const std::uint8_t* p);

  std::array<std::uint32_t, 8> state_ = kInit;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t length_ = 0;  // bytes hashed so far

  static constexpr std::array<std::uint32_t, 8> kInit = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                                         0xa54ff53a, 0x510e527f, 0x9b05688c,
                                                         0x1f83d9ab, 0x5be0cd19};
};

Sha256::Digest hmac_sha256(std::string_view key, std::string_view message);

}  // namespace molt::internal
