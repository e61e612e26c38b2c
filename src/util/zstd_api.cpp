#include "util/zstd_api.hpp"

#include <dlfcn.h>

namespace molt::internal {
namespace {

ZstdLoad load_zstd() {
  ZstdLoad load;
  void* library = dlopen(kZstdSoname, RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char* cause = dlerror();
    load.error = std::string("cannot load ") + kZstdSoname + ": " + (cause ? cause : "?");
    return load;
  }
  ZstdApi& api = load.api;
  const char* missing = nullptr;
  auto need = [&](const char* symbol, auto& fn) {
    if (missing) return;
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(library, symbol));
    if (!fn) missing = symbol;
  };
  need("ZSTD_isError", api.is_error);
  need("ZSTD_getErrorName", api.error_name);
  need("ZSTD_compressBound", api.compress_bound);
  need("ZSTD_createCCtx", api.create_cctx);
  need("ZSTD_freeCCtx", api.free_cctx);
  need("ZSTD_CCtx_setParameter", api.cctx_set);
  need("ZSTD_CCtx_refPrefix", api.cctx_ref_prefix);
  need("ZSTD_compress2", api.compress2);
  need("ZSTD_createDCtx", api.create_dctx);
  need("ZSTD_freeDCtx", api.free_dctx);
  need("ZSTD_DCtx_setParameter", api.dctx_set);
  need("ZSTD_DCtx_refPrefix", api.dctx_ref_prefix);
  need("ZSTD_decompressStream", api.decompress_stream);
  if (missing) {
    load.error = std::string("cannot load ") + kZstdSoname + ": it has no " + missing;
    load.api = ZstdApi{};
    dlclose(library);
  }
  return load;
}

}  // namespace

const ZstdLoad& zstd_api() {
  static const ZstdLoad load = load_zstd();
  return load;
}

}  // namespace molt::internal
