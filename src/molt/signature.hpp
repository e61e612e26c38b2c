// minisign-compatible keys and signatures (https://jedisct1.github.io/minisign/).
//
// Files: a public key is an "untrusted comment:" line and base64("Ed" | key_id[8] | pk[32]);
// a signature is an "untrusted comment:" line, base64(algo[2] | key_id[8] | sig[64]), a
// "trusted comment: " line and base64(global_sig[64]), where global_sig signs sig | comment.
// algo "ED" signs BLAKE2b-512(file) (the default); legacy "Ed" signs the file itself.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace molt::sig {

using KeyId = std::array<std::uint8_t, 8>;
using Digest = std::array<std::uint8_t, 64>;  // BLAKE2b-512

struct PublicKey {
  KeyId key_id{};
  std::array<std::uint8_t, 32> key{};
};

struct SecretKey {
  KeyId key_id{};
  std::array<std::uint8_t, 64> key{};  // Ed25519 seed | public key, as minisign stores it
};

struct Signature {
  bool prehashed = true;  // "ED"; false for legacy "Ed"
  KeyId key_id{};
  std::array<std::uint8_t, 64> signature{};
  std::string trusted_comment;  // without the "trusted comment: " prefix
  std::array<std::uint8_t, 64> global_signature{};
};

// The fields molt reads from a trusted comment ("timestamp:1700000000\tfile:app\tbuild_id:v2").
struct TrustedComment {
  std::optional<std::int64_t> timestamp;
  std::string file;
  std::string build_id;
  bool hashed = false;
};

// Streaming BLAKE2b-512, so an artifact is hashed while it is written. finish() starts over.
// Throws std::runtime_error only when libcrypto cannot be loaded or has no BLAKE2B-512 (a broken
// install).
class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  void update(const void* data, std::size_t size);
  Digest finish();

 private:
  void* ctx_;
};

// Parsers return nullopt and set `error` to one line naming the cause.
// A public key file may also be just the base64 line (what `minisign -P` takes).
std::optional<PublicKey> parse_public_key(std::string_view file_text, std::string& error);
std::optional<Signature> parse_signature(std::string_view file_text, std::string& error);
// Reads a secret key file; `password` is used only when the key is encrypted.
std::optional<SecretKey> parse_secret_key(std::string_view file_text, std::string_view password,
                                          std::string& error);
// True when the secret key file's key is scrypt-encrypted, so a password is needed.
bool is_encrypted_secret_key(std::string_view file_text);
TrustedComment parse_trusted_comment(std::string_view comment);
// How minisign prints a key id: the 8 bytes as a little-endian number, 16 uppercase hex digits.
std::string key_id_to_string(const KeyId& key_id);

// Verification returns an empty string when valid, otherwise one line saying which check failed
// (key id, file signature, comment signature).
// For "ED" signatures: `digest` is BLAKE2b-512 of the artifact.
std::string verify_digest(const PublicKey& key, const Signature& sig, const Digest& digest);
// The trusted comment alone (the global signature over signature | comment), which needs no file:
// what a poll may trust before anything is downloaded.
std::string verify_comment(const PublicKey& key, const Signature& sig);
// For either algorithm: reads the file at `path` (legacy "Ed" needs the whole message).
std::string verify_file(const PublicKey& key, const Signature& sig, const std::string& path);
// Picks the key whose id matches the signature among `keys`; error if none.
const PublicKey* find_key(const std::vector<PublicKey>& keys, const Signature& sig,
                          std::string& error);

// Signing and keys, for the molt command. generate_key_pair and format_secret_key throw
// std::runtime_error when OpenSSL cannot make randomness or scrypt finds no memory.
struct KeyPair {
  PublicKey public_key;
  SecretKey secret_key;
};
KeyPair generate_key_pair();
PublicKey public_key_of(const SecretKey& key);
std::string format_public_key(const PublicKey& key);
// scrypt cost as libsodium counts it; the defaults are minisign's (N=2^20, r=8, p=1: 1 GiB).
struct ScryptLimits {
  std::uint64_t opslimit = 33554432;
  std::uint64_t memlimit = 1073741824;
};
// Empty password: unencrypted (minisign -W). Otherwise scrypt-encrypted as minisign does;
// like minisign, halves the limits while the machine cannot give the memory.
std::string format_secret_key(const SecretKey& key, std::string_view password,
                              const ScryptLimits& limits = {});
// Signs `path` prehashed ("ED") and returns the .minisig file text.
std::string sign_file(const SecretKey& key, const std::string& path,
                      std::string_view trusted_comment, std::string_view untrusted_comment,
                      std::string& error);

}  // namespace molt::sig
