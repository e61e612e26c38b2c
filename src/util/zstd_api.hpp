// libzstd, loaded with dlopen on first use, as fetchers/curl_api.hpp does libcurl: only the check
// helper (applying a delta update) and `molt delta` need it, so no master or child maps it.
// <zstd.h> gives the types and constants; the functions are called through this table.
#pragma once

#include <zstd.h>

#include <string>

namespace molt::internal {

inline constexpr char kZstdSoname[] = "libzstd.so.1";

struct ZstdApi {
  decltype(&::ZSTD_isError) is_error = nullptr;
  decltype(&::ZSTD_getErrorName) error_name = nullptr;
  decltype(&::ZSTD_compressBound) compress_bound = nullptr;
  decltype(&::ZSTD_createCCtx) create_cctx = nullptr;
  decltype(&::ZSTD_freeCCtx) free_cctx = nullptr;
  decltype(&::ZSTD_CCtx_setParameter) cctx_set = nullptr;
  decltype(&::ZSTD_CCtx_refPrefix) cctx_ref_prefix = nullptr;
  decltype(&::ZSTD_compress2) compress2 = nullptr;
  decltype(&::ZSTD_createDCtx) create_dctx = nullptr;
  decltype(&::ZSTD_freeDCtx) free_dctx = nullptr;
  decltype(&::ZSTD_DCtx_setParameter) dctx_set = nullptr;
  decltype(&::ZSTD_DCtx_refPrefix) dctx_ref_prefix = nullptr;
  decltype(&::ZSTD_decompressStream) decompress_stream = nullptr;
};

struct ZstdLoad {
  ZstdApi api;
  std::string error;  // "cannot load libzstd.so.1: <cause>"; empty when loaded
  bool ok() const { return error.empty(); }
};

// kZstdSoname, loaded once per process (thread-safe); the same answer every time after.
const ZstdLoad& zstd_api();

}  // namespace molt::internal
