// What the signature files share and the public header does not promise: minisign's limits,
// its line rules and the Ed25519 calls.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace molt::sig::detail {

// minisign.h: fgets buffers, so a line including its "\n" must be shorter than these.
constexpr std::size_t kCommentMaxBytes = 1024;
constexpr std::size_t kTrustedCommentMaxBytes = 8192;
constexpr std::string_view kCommentPrefix = "untrusted comment: ";
constexpr std::string_view kTrustedCommentPrefix = "trusted comment: ";

// Walks text line by line as minisign's fgets + trim does: a trailing "\n" and then one "\r"
// are dropped; `raw_size` counts them, for the length limits.
struct Line {
  std::string_view text;
  std::size_t raw_size = 0;
  bool terminated = false;  // ended by "\n" (the last line of a file may not be)
};
class LineReader {
 public:
  explicit LineReader(std::string_view text) : rest_(text) {}
  std::optional<Line> next();

 private:
  std::string_view rest_;
};

// minisign's is_printable: tabs and printable UTF-8, no control characters.
bool is_printable(std::string_view text);

// Why no signature can be made or checked in this process ("cannot load libcrypto.so.3: ..."),
// or empty: the Ed25519 calls below then answer false and nullopt for that reason alone.
std::string crypto_unavailable();

// Ed25519 on minisign's 64-byte secret key (seed | public key).
bool ed25519_sign(const std::array<std::uint8_t, 64>& secret, const void* message, std::size_t size,
                  std::array<std::uint8_t, 64>& signature);
bool ed25519_verify(const std::array<std::uint8_t, 32>& key, const void* message, std::size_t size,
                    const std::array<std::uint8_t, 64>& signature);
// The public key a seed makes; nullopt only when OpenSSL fails (or cannot be loaded).
std::optional<std::array<std::uint8_t, 32>> ed25519_public_key(const std::uint8_t* seed);

// Loads libcrypto and makes OpenSSL fetch BLAKE2b-512 and Ed25519 now, the first use's cost
// (about 4 ms of CPU: the load, the providers' tables), so that a later check does not pay it.
void load_crypto_ahead();

}  // namespace molt::sig::detail
