// OpenSSL's Ed25519 and BLAKE2b-512, in the shapes the signature code needs. libcrypto is loaded
// on the first call (minisign/openssl_api.hpp), never by a process that only parses signatures.
#include <memory>
#include <molt/signature.hpp>
#include <stdexcept>

#include "minisign/openssl_api.hpp"
#include "minisign/signature_internal.hpp"

namespace molt::sig {

using internal::crypto_api;
using internal::CryptoApi;

namespace detail {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { crypto_api().api.pkey_free(key); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { crypto_api().api.md_ctx_free(ctx); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

}  // namespace

std::string crypto_unavailable() { return crypto_api().error; }

bool ed25519_sign(const std::array<std::uint8_t, 64>& secret, const void* message, std::size_t size,
                  std::array<std::uint8_t, 64>& signature) {
  if (!crypto_api().ok()) return false;
  const CryptoApi& c = crypto_api().api;
  Pkey key(c.pkey_new_raw_private_key(EVP_PKEY_ED25519, nullptr, secret.data(), 32));
  MdCtx ctx(c.md_ctx_new());
  std::size_t length = signature.size();
  return key && ctx && c.digest_sign_init(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
         c.digest_sign(ctx.get(), signature.data(), &length,
                       static_cast<const unsigned char*>(message), size) == 1 &&
         length == signature.size();
}

bool ed25519_verify(const std::array<std::uint8_t, 32>& key, const void* message, std::size_t size,
                    const std::array<std::uint8_t, 64>& signature) {
  if (!crypto_api().ok()) return false;
  const CryptoApi& c = crypto_api().api;
  Pkey pkey(c.pkey_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()));
  MdCtx ctx(c.md_ctx_new());
  return pkey && ctx &&
         c.digest_verify_init(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
         c.digest_verify(ctx.get(), signature.data(), signature.size(),
                         static_cast<const unsigned char*>(message), size) == 1;
}

std::optional<std::array<std::uint8_t, 32>> ed25519_public_key(const std::uint8_t* seed) {
  if (!crypto_api().ok()) return std::nullopt;
  const CryptoApi& c = crypto_api().api;
  Pkey key(c.pkey_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed, 32));
  std::array<std::uint8_t, 32> out{};
  std::size_t length = out.size();
  if (!key || c.pkey_get_raw_public_key(key.get(), out.data(), &length) != 1 ||
      length != out.size()) {
    return std::nullopt;
  }
  return out;
}

}  // namespace detail

namespace {

// Fetched once: an explicit fetch avoids a provider lookup per Hasher.
const EVP_MD* blake2b512() {
  static EVP_MD* md =
      crypto_api().ok() ? crypto_api().api.md_fetch(nullptr, "BLAKE2B-512", nullptr) : nullptr;
  return md;
}

}  // namespace

void detail::load_crypto_ahead() {
  if (!crypto_api().ok() || blake2b512() == nullptr) return;
  // It fails (zeros are no signature of anything); what is wanted is the fetches on the way.
  (void)ed25519_verify({}, "", 0, {});
}

Hasher::Hasher() : ctx_(nullptr) {
  // Without libcrypto, a context or the digest nothing can be checked: that is a broken install.
  if (!crypto_api().ok()) throw std::runtime_error(crypto_api().error);
  const CryptoApi& c = crypto_api().api;
  auto* ctx = c.md_ctx_new();
  if (ctx == nullptr || blake2b512() == nullptr ||
      c.digest_init_ex2(ctx, blake2b512(), nullptr) != 1) {
    c.md_ctx_free(ctx);
    throw std::runtime_error("OpenSSL has no BLAKE2B-512 digest");
  }
  ctx_ = ctx;
}

Hasher::~Hasher() { crypto_api().api.md_ctx_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Hasher::update(const void* data, std::size_t size) {
  crypto_api().api.digest_update(static_cast<EVP_MD_CTX*>(ctx_), data, size);
}

Digest Hasher::finish() {
  const CryptoApi& c = crypto_api().api;
  Digest digest{};
  unsigned int length = 0;
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  c.digest_final_ex(ctx, digest.data(), &length);
  c.digest_init_ex2(ctx, blake2b512(), nullptr);  // ready for another artifact
  return digest;
}

}  // namespace molt::sig
