// OpenSSL's Ed25519 and BLAKE2b-512, in the shapes the signature code needs.
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <memory>
#include <molt/signature.hpp>
#include <stdexcept>

#include "minisign/signature_internal.hpp"

namespace molt::sig {
namespace detail {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

}  // namespace

bool ed25519_sign(const std::array<std::uint8_t, 64>& secret, const void* message, std::size_t size,
                  std::array<std::uint8_t, 64>& signature) {
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, secret.data(), 32));
  MdCtx ctx(EVP_MD_CTX_new());
  std::size_t length = signature.size();
  return key && ctx && EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
         EVP_DigestSign(ctx.get(), signature.data(), &length,
                        static_cast<const unsigned char*>(message), size) == 1 &&
         length == signature.size();
}

bool ed25519_verify(const std::array<std::uint8_t, 32>& key, const void* message, std::size_t size,
                    const std::array<std::uint8_t, 64>& signature) {
  Pkey pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()));
  MdCtx ctx(EVP_MD_CTX_new());
  return pkey && ctx &&
         EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                          static_cast<const unsigned char*>(message), size) == 1;
}

std::optional<std::array<std::uint8_t, 32>> ed25519_public_key(const std::uint8_t* seed) {
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed, 32));
  std::array<std::uint8_t, 32> out{};
  std::size_t length = out.size();
  if (!key || EVP_PKEY_get_raw_public_key(key.get(), out.data(), &length) != 1 ||
      length != out.size()) {
    return std::nullopt;
  }
  return out;
}

}  // namespace detail

namespace {

// Fetched once: an explicit fetch avoids a provider lookup per Hasher.
const EVP_MD* blake2b512() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "BLAKE2B-512", nullptr);
  return md;
}

}  // namespace

Hasher::Hasher() : ctx_(EVP_MD_CTX_new()) {
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  // Without a context or the digest nothing can be checked: that is a broken install.
  if (ctx == nullptr || blake2b512() == nullptr ||
      EVP_DigestInit_ex2(ctx, blake2b512(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    throw std::runtime_error("OpenSSL has no BLAKE2B-512 digest");
  }
}

Hasher::~Hasher() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Hasher::update(const void* data, std::size_t size) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size);
}

Digest Hasher::finish() {
  Digest digest{};
  unsigned int length = 0;
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  EVP_DigestFinal_ex(ctx, digest.data(), &length);
  EVP_DigestInit_ex2(ctx, blake2b512(), nullptr);  // ready for another artifact
  return digest;
}

}  // namespace molt::sig
