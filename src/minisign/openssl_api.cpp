#include "minisign/openssl_api.hpp"

#include "util/shared_library.hpp"

namespace molt::internal {
namespace {

CryptoLoad load_crypto(const char* soname) {
  CryptoLoad load;
  SharedLibrary library(soname);
  CryptoApi& api = load.api;
  auto need = [&](const char* symbol, auto& fn) { library.need(symbol, fn); };
  need("EVP_PKEY_new_raw_private_key", api.pkey_new_raw_private_key);
  need("EVP_PKEY_new_raw_public_key", api.pkey_new_raw_public_key);
  need("EVP_PKEY_get_raw_private_key", api.pkey_get_raw_private_key);
  need("EVP_PKEY_get_raw_public_key", api.pkey_get_raw_public_key);
  need("EVP_PKEY_Q_keygen", api.pkey_q_keygen);
  need("EVP_PKEY_free", api.pkey_free);
  need("EVP_MD_CTX_new", api.md_ctx_new);
  need("EVP_MD_CTX_free", api.md_ctx_free);
  need("EVP_MD_fetch", api.md_fetch);
  need("EVP_DigestInit_ex2", api.digest_init_ex2);
  need("EVP_DigestUpdate", api.digest_update);
  need("EVP_DigestFinal_ex", api.digest_final_ex);
  need("EVP_DigestSignInit", api.digest_sign_init);
  need("EVP_DigestSign", api.digest_sign);
  need("EVP_DigestVerifyInit", api.digest_verify_init);
  need("EVP_DigestVerify", api.digest_verify);
  need("EVP_PBE_scrypt", api.pbe_scrypt);
  need("RAND_bytes", api.rand_bytes);
  if (!library.ok()) {
    load.error = library.error();
    load.api = CryptoApi{};
  }
  return load;
}

}  // namespace

const CryptoLoad& crypto_api() {
  static const CryptoLoad load = load_crypto(kCryptoSoname);
  return load;
}

}  // namespace molt::internal
