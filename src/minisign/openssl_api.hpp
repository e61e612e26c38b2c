// libcrypto (OpenSSL 3), loaded with dlopen on first use, as fetchers/curl_api.hpp loads libcurl.
//
// A master must stay small while it sits (issue 13: no libcrypto in the idle master): mapping
// libcrypto costs about 1.4 MiB of Rss and 400 KiB of relocated, private data in every process
// that links it. So only the processes that check or make signatures load it: the check helper
// (Ed25519 and BLAKE2b-512), the molt command's keygen, sign and verify, and the short process
// the master forks to check the signature beside its binary (master/state_file.cpp). Hashing for
// BuildIDs and S3 requests is util/sha256's. <openssl/*.h> give the types and prototypes; the
// functions are called through this table, resolved with dlsym.
#pragma once

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <string>

namespace molt::internal {

inline constexpr char kCryptoSoname[] = "libcrypto.so.3";

// Each member has the exact type of the libcrypto function it points to.
struct CryptoApi {
  decltype(&::EVP_PKEY_new_raw_private_key) pkey_new_raw_private_key = nullptr;
  decltype(&::EVP_PKEY_new_raw_public_key) pkey_new_raw_public_key = nullptr;
  decltype(&::EVP_PKEY_get_raw_private_key) pkey_get_raw_private_key = nullptr;
  decltype(&::EVP_PKEY_get_raw_public_key) pkey_get_raw_public_key = nullptr;
  decltype(&::EVP_PKEY_Q_keygen) pkey_q_keygen = nullptr;
  decltype(&::EVP_PKEY_free) pkey_free = nullptr;
  decltype(&::EVP_MD_CTX_new) md_ctx_new = nullptr;
  decltype(&::EVP_MD_CTX_free) md_ctx_free = nullptr;
  decltype(&::EVP_MD_fetch) md_fetch = nullptr;
  decltype(&::EVP_DigestInit_ex2) digest_init_ex2 = nullptr;
  decltype(&::EVP_DigestUpdate) digest_update = nullptr;
  decltype(&::EVP_DigestFinal_ex) digest_final_ex = nullptr;
  decltype(&::EVP_DigestSignInit) digest_sign_init = nullptr;
  decltype(&::EVP_DigestSign) digest_sign = nullptr;
  decltype(&::EVP_DigestVerifyInit) digest_verify_init = nullptr;
  decltype(&::EVP_DigestVerify) digest_verify = nullptr;
  decltype(&::EVP_PBE_scrypt) pbe_scrypt = nullptr;
  decltype(&::RAND_bytes) rand_bytes = nullptr;
};

struct CryptoLoad {
  CryptoApi api;
  std::string error;  // one line, e.g. "cannot load libcrypto.so.3: <cause>"; empty when loaded

  bool ok() const { return error.empty(); }
};

// dlopen(kCryptoSoname) and every CryptoApi function, once per process (thread-safe: the
// check helper hashes on a thread of its own); the same answer every time after. Never closed:
// OpenSSL keeps one-time allocations in its globals, and refuses to be unloaded anyway.
const CryptoLoad& crypto_api();

}  // namespace molt::internal
