#include "util/zstd_api.hpp"

#include "util/shared_library.hpp"

namespace molt::internal {
namespace {

ZstdLoad load_zstd() {
  ZstdLoad load;
  SharedLibrary library(kZstdSoname);
  ZstdApi& api = load.api;
  library.need("ZSTD_isError", api.is_error);
  library.need("ZSTD_getErrorName", api.error_name);
  library.need("ZSTD_compressBound", api.compress_bound);
  library.need("ZSTD_createCCtx", api.create_cctx);
  library.need("ZSTD_freeCCtx", api.free_cctx);
  library.need("ZSTD_CCtx_setParameter", api.cctx_set);
  library.need("ZSTD_CCtx_refPrefix", api.cctx_ref_prefix);
  library.need("ZSTD_compress2", api.compress2);
  library.need("ZSTD_createDCtx", api.create_dctx);
  library.need("ZSTD_freeDCtx", api.free_dctx);
  library.need("ZSTD_DCtx_setParameter", api.dctx_set);
  library.need("ZSTD_DCtx_refPrefix", api.dctx_ref_prefix);
  library.need("ZSTD_decompressStream", api.decompress_stream);
  if (!library.ok()) {
    load.error = library.error();
    load.api = ZstdApi{};
  }
  return load;
}

}  // namespace

const ZstdLoad& zstd_api() {
  static const ZstdLoad load = load_zstd();
  return load;
}

}  // namespace molt::internal
