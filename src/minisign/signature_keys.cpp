// minisign secret keys: generation, and the file format with its optional scrypt encryption.
//
// The key line is base64 of: sig_alg "Ed" | kdf_alg "Sc" (or 0,0 unencrypted) | chk_alg "B2" |
// salt[32] | opslimit u64 LE | memlimit u64 LE | key_id[8] | sk[64] | checksum[32], where the
// last 104 bytes are XORed with scrypt(password, salt) and checksum = BLAKE2b-256(sig_alg |
// key_id | sk). minisign -W leaves the checksum all zero, so a zero one is not checked.
#include <string.h>

#include <algorithm>
#include <cstring>
#include <molt/signature.hpp>
#include <stdexcept>

#include "minisign/base64.hpp"
#include "minisign/blake2b.hpp"
#include "minisign/openssl_api.hpp"
#include "minisign/signature_internal.hpp"

namespace molt::sig {

using internal::base64_decode;
using internal::base64_encode;
using internal::blake2b;
using internal::crypto_api;
namespace {

constexpr std::size_t kSecretKeyBytes = 158;
constexpr std::size_t kSaltAt = 6, kOpsAt = 38, kMemAt = 46, kKeyIdAt = 54, kSkAt = 62,
                      kChkAt = 126;
constexpr std::size_t kEncryptedBytes = kSecretKeyBytes - kKeyIdAt;  // key_id | sk | checksum
// libsodium's crypto_pwhash_scryptsalsa208sha256 bounds.
constexpr std::uint64_t kOpsLimitMin = 32768, kOpsLimitMax = 4294967295;
constexpr std::uint64_t kMemLimitMin = 16777216;
// A key that asks for more than this is refused rather than allowed to exhaust the machine.
constexpr std::uint64_t kMaxScryptMemory = 2ull << 30;

// Compares secret bytes in a time that does not depend on where they differ.
bool equal_in_constant_time(const std::uint8_t* a, const std::uint8_t* b, std::size_t size) {
  volatile std::uint8_t diff = 0;
  for (std::size_t i = 0; i < size; ++i) diff = diff | (a[i] ^ b[i]);
  return diff == 0;
}

// Zeroes secret bytes when they go out of scope.
template <typename T>
struct Wipe {
  T& bytes;
  ~Wipe() { ::explicit_bzero(bytes.data(), bytes.size()); }
};

std::uint64_t load_le64(const std::uint8_t* p) {
  std::uint64_t x = 0;
  for (int i = 7; i >= 0; --i) x = (x << 8) | p[i];
  return x;
}

void store_le64(std::uint8_t* p, std::uint64_t x) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(x >> (8 * i));
}

struct ScryptParams {
  std::uint64_t n = 0;
  std::uint64_t r = 8;
  std::uint64_t p = 1;
};

// libsodium's pickparams: how minisign turns (opslimit, memlimit) into scrypt's N, r, p.
ScryptParams pick_params(std::uint64_t opslimit, std::uint64_t memlimit) {
  ScryptParams out;
  opslimit = std::max(opslimit, kOpsLimitMin);
  auto smallest_log2_above = [](std::uint64_t half_max) {
    std::uint32_t n_log2 = 1;
    while (n_log2 < 63 && (std::uint64_t{1} << n_log2) <= half_max) ++n_log2;
    return n_log2;
  };
  if (opslimit < memlimit / 32) {
    out.n = std::uint64_t{1} << smallest_log2_above(opslimit / (out.r * 4) / 2);
  } else {
    out.n = std::uint64_t{1} << smallest_log2_above(memlimit / (out.r * 128) / 2);
    std::uint64_t max_rp = std::min<std::uint64_t>((opslimit / 4) / out.n, 0x3fffffff);
    out.p = max_rp / out.r;
  }
  return out;
}

// Fills `out` with scrypt(password, salt); false with `error` set when it cannot.
bool derive(std::string_view password, const std::uint8_t* salt, std::uint64_t opslimit,
            std::uint64_t memlimit, std::uint8_t* out, std::size_t size, std::string& error) {
  if (opslimit > kOpsLimitMax) {
    error = "secret key asks for an scrypt opslimit beyond libsodium's maximum";
    return false;
  }
  ScryptParams params = pick_params(opslimit, memlimit);
  // OpenSSL's own accounting: B is 128*r*p bytes, V is 128*r*(N+2).
  std::uint64_t memory = 128 * params.r * (params.n + 2 + params.p);
  if (params.p == 0 || memory > kMaxScryptMemory) {
    error = "secret key asks for scrypt parameters beyond molt's limits (N=" +
            std::to_string(params.n) + ", p=" + std::to_string(params.p) + ")";
    return false;
  }
  if (!crypto_api().ok()) {
    error = crypto_api().error;
    return false;
  }
  if (crypto_api().api.pbe_scrypt(password.data(), password.size(), salt, 32, params.n, params.r,
                                  params.p, memory + (1 << 20), out, size) != 1) {
    error = "scrypt key derivation failed (out of memory?)";
    return false;
  }
  return true;
}

std::array<std::uint8_t, 32> checksum(const std::uint8_t* key_bytes) {
  std::uint8_t input[2 + 8 + 64];
  std::memcpy(input, key_bytes, 2);
  std::memcpy(input + 2, key_bytes + kKeyIdAt, 8 + 64);
  auto digest = blake2b(32, input, sizeof input);
  ::explicit_bzero(input, sizeof input);
  std::array<std::uint8_t, 32> out{};
  std::copy(digest.begin(), digest.end(), out.begin());
  ::explicit_bzero(digest.data(), digest.size());
  return out;
}

// Decodes the key line; nullopt with `error` set when the file is not a minisign secret key.
std::optional<std::vector<std::uint8_t>> decode_secret_key(std::string_view file_text,
                                                           std::string& error) {
  detail::LineReader lines(file_text);
  auto comment = lines.next();
  if (!comment || !comment->terminated || comment->raw_size >= detail::kCommentMaxBytes) {
    error = comment ? "secret key comment line is too long or has no end of line"
                    : "empty file, not a minisign secret key";
    return std::nullopt;
  }
  auto line = lines.next();
  if (!line || line->text.empty()) {
    error = "truncated: no secret key line";
    return std::nullopt;
  }
  auto bytes = base64_decode(line->text);
  if (!bytes || bytes->size() != kSecretKeyBytes) {
    error = bytes ? "secret key line holds the wrong number of bytes (truncated?)"
                  : "secret key line is not valid base64";
    if (bytes) ::explicit_bzero(bytes->data(), bytes->size());
    return std::nullopt;
  }
  if (std::memcmp(bytes->data(), "Ed", 2) != 0 || std::memcmp(bytes->data() + 4, "B2", 2) != 0) {
    error = "unsupported secret key algorithm or checksum (expected minisign's Ed and B2)";
    ::explicit_bzero(bytes->data(), bytes->size());
    return std::nullopt;
  }
  return bytes;
}

}  // namespace

KeyPair generate_key_pair() {
  if (!crypto_api().ok()) throw std::runtime_error(crypto_api().error);
  const internal::CryptoApi& c = crypto_api().api;
  EVP_PKEY* pkey = c.pkey_q_keygen(nullptr, nullptr, "ED25519");
  KeyPair pair;
  std::size_t seed_size = 32, public_size = 32;
  bool ok = pkey != nullptr &&
            c.pkey_get_raw_private_key(pkey, pair.secret_key.key.data(), &seed_size) == 1 &&
            c.pkey_get_raw_public_key(pkey, pair.secret_key.key.data() + 32, &public_size) == 1 &&
            c.rand_bytes(pair.secret_key.key_id.data(), 8) == 1;
  c.pkey_free(pkey);
  if (!ok) throw std::runtime_error("OpenSSL could not generate an Ed25519 key");
  pair.public_key = public_key_of(pair.secret_key);
  return pair;
}

bool is_encrypted_secret_key(std::string_view file_text) {
  std::string error;
  auto bytes = decode_secret_key(file_text, error);
  if (!bytes) return false;
  Wipe<std::vector<std::uint8_t>> wipe{*bytes};
  return std::memcmp(bytes->data() + 2, "Sc", 2) == 0;
}

std::optional<SecretKey> parse_secret_key(std::string_view file_text, std::string_view password,
                                          std::string& error) {
  auto bytes = decode_secret_key(file_text, error);
  if (!bytes) return std::nullopt;
  Wipe<std::vector<std::uint8_t>> wipe_bytes{*bytes};
  std::uint8_t* key = bytes->data();
  bool encrypted = std::memcmp(key + 2, "Sc", 2) == 0;
  if (!encrypted && (key[2] != 0 || key[3] != 0)) {
    error = "unsupported secret key derivation function (expected minisign's Sc)";
    return std::nullopt;
  }
  if (encrypted) {
    if (password.empty()) {
      error = "the secret key is encrypted and no password was given";
      return std::nullopt;
    }
    std::array<std::uint8_t, kEncryptedBytes> stream{};
    Wipe<decltype(stream)> wipe_stream{stream};
    if (!derive(password, key + kSaltAt, load_le64(key + kOpsAt), load_le64(key + kMemAt),
                stream.data(), stream.size(), error)) {
      return std::nullopt;
    }
    for (std::size_t i = 0; i < kEncryptedBytes; ++i) key[kKeyIdAt + i] ^= stream[i];
  }
  auto expected = checksum(key);
  bool unchecked = !encrypted && std::all_of(key + kChkAt, key + kChkAt + 32,
                                             [](std::uint8_t b) { return b == 0; });
  if (!unchecked && !equal_in_constant_time(expected.data(), key + kChkAt, 32)) {
    error = encrypted ? "wrong password for this secret key"
                      : "secret key checksum does not match (damaged file)";
    return std::nullopt;
  }
  SecretKey out;
  std::copy_n(key + kKeyIdAt, 8, out.key_id.begin());
  std::copy_n(key + kSkAt, 64, out.key.begin());
  if (!crypto_api().ok()) {
    ::explicit_bzero(out.key.data(), out.key.size());
    error = crypto_api().error;
    return std::nullopt;
  }
  auto derived = detail::ed25519_public_key(out.key.data());
  if (!derived || !std::equal(derived->begin(), derived->end(), out.key.begin() + 32)) {
    ::explicit_bzero(out.key.data(), out.key.size());
    error = "secret key is damaged: its public half does not match its seed";
    return std::nullopt;
  }
  return out;
}

std::string format_secret_key(const SecretKey& key, std::string_view password,
                              const ScryptLimits& limits) {
  std::array<std::uint8_t, kSecretKeyBytes> bytes{'E', 'd', 0, 0, 'B', '2'};
  Wipe<decltype(bytes)> wipe_bytes{bytes};
  std::copy(key.key_id.begin(), key.key_id.end(), bytes.begin() + kKeyIdAt);
  std::copy(key.key.begin(), key.key.end(), bytes.begin() + kSkAt);
  auto sum = checksum(bytes.data());
  std::copy(sum.begin(), sum.end(), bytes.begin() + kChkAt);
  if (!password.empty()) {
    bytes[2] = 'S';
    bytes[3] = 'c';
    if (!crypto_api().ok()) throw std::runtime_error(crypto_api().error);
    if (crypto_api().api.rand_bytes(bytes.data() + kSaltAt, 32) != 1) {
      throw std::runtime_error("OpenSSL could not make a random salt");
    }
    std::array<std::uint8_t, kEncryptedBytes> stream{};
    Wipe<decltype(stream)> wipe_stream{stream};
    ScryptLimits used = limits;
    std::string error;
    // As minisign does: a machine short of memory gets a cheaper key, not a failure.
    while (!derive(password, bytes.data() + kSaltAt, used.opslimit, used.memlimit, stream.data(),
                   stream.size(), error)) {
      used.opslimit /= 2;
      used.memlimit /= 2;
      if (used.opslimit < kOpsLimitMin || used.memlimit < kMemLimitMin) {
        throw std::runtime_error(error);
      }
    }
    store_le64(bytes.data() + kOpsAt, used.opslimit);
    store_le64(bytes.data() + kMemAt, used.memlimit);
    for (std::size_t i = 0; i < kEncryptedBytes; ++i) bytes[kKeyIdAt + i] ^= stream[i];
  }
  std::string comment =
      password.empty() ? "molt unencrypted secret key" : "molt encrypted secret key";
  return std::string(detail::kCommentPrefix) + comment + "\n" +
         base64_encode(bytes.data(), bytes.size()) + "\n";
}

}  // namespace molt::sig
