#include "util/patch.hpp"

#include <algorithm>
#include <bit>
#include <memory>
#include <vector>

#include "util/zstd_api.hpp"

namespace molt::internal {
namespace {

// The window must reach back over the whole old file: zstd's --patch-from rule.
int window_log_for(std::size_t from, std::size_t to) {
  std::size_t largest = std::max<std::size_t>({from, to, 1024});
  return std::clamp(static_cast<int>(std::bit_width(largest - 1)), 10, 31);
}

}  // namespace

std::optional<std::string> make_patch(std::string_view from, std::string_view to,
                                      std::string& error) {
  const ZstdLoad& zstd = zstd_api();
  if (!zstd.ok()) {
    error = zstd.error;
    return std::nullopt;
  }
  const ZstdApi& z = zstd.api;
  std::unique_ptr<ZSTD_CCtx, decltype(z.free_cctx)> cctx(z.create_cctx(), z.free_cctx);
  std::string patch(z.compress_bound(to.size()), '\0');
  size_t rc = cctx ? 0 : static_cast<size_t>(-1);
  for (auto [parameter, value] :
       {std::pair{ZSTD_c_compressionLevel, 19}, std::pair{ZSTD_c_checksumFlag, 1},
        std::pair{ZSTD_c_enableLongDistanceMatching, 1},
        std::pair{ZSTD_c_windowLog, window_log_for(from.size(), to.size())}}) {
    if (cctx && !z.is_error(rc)) rc = z.cctx_set(cctx.get(), parameter, value);
  }
  if (cctx && !z.is_error(rc)) rc = z.cctx_ref_prefix(cctx.get(), from.data(), from.size());
  if (cctx && !z.is_error(rc)) {
    rc = z.compress2(cctx.get(), patch.data(), patch.size(), to.data(), to.size());
  }
  if (!cctx || z.is_error(rc)) {
    error = std::string("zstd: ") + (cctx ? z.error_name(rc) : "out of memory");
    return std::nullopt;
  }
  patch.resize(rc);
  return patch;
}

bool apply_patch(std::string_view from, std::string_view patch, Sink& out, std::string& error) {
  const ZstdLoad& zstd = zstd_api();
  if (!zstd.ok()) {
    error = zstd.error;
    return false;
  }
  const ZstdApi& z = zstd.api;
  std::unique_ptr<ZSTD_DCtx, decltype(z.free_dctx)> dctx(z.create_dctx(), z.free_dctx);
  if (!dctx) {
    error = "zstd: out of memory";
    return false;
  }
  size_t rc = z.dctx_set(dctx.get(), ZSTD_d_windowLogMax, 31);
  if (!z.is_error(rc)) rc = z.dctx_ref_prefix(dctx.get(), from.data(), from.size());
  if (z.is_error(rc)) {
    error = std::string("zstd: ") + z.error_name(rc);
    return false;
  }
  ZSTD_inBuffer in{patch.data(), patch.size(), 0};
  std::vector<char> chunk(1 << 17);
  for (;;) {
    ZSTD_outBuffer o{chunk.data(), chunk.size(), 0};
    size_t left = z.decompress_stream(dctx.get(), &o, &in);  // 0 once the frame is whole
    if (z.is_error(left)) {
      error = std::string("the patch is corrupt: ") + z.error_name(left);
      return false;
    }
    if (o.pos > 0 && !out.write(chunk.data(), o.pos)) {
      error = out.error();
      return false;
    }
    if (left == 0 && in.pos == in.size) break;
    if (left == 0) {  // one frame, whose prefix is the old build: nothing may follow it
      error = "the patch is corrupt: bytes follow its frame";
      return false;
    }
    if (in.pos == in.size && o.pos < o.size) {
      error = "the patch is corrupt: it ends before its frame does";
      return false;
    }
  }
  return true;
}

std::string patch_name(const std::string& build_id) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string name;
  for (unsigned char c : build_id) {
    bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
    if (plain) {
      name += static_cast<char>(c);
    } else {
      name += '%';
      name += kHex[c >> 4];
      name += kHex[c & 15];
    }
  }
  return name;
}

}  // namespace molt::internal
