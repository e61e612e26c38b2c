// Delta updates. A patch is one zstd frame compressed with the old build as its prefix
// dictionary (what `zstd --patch-from=OLD NEW` writes, and `zstd -d --patch-from=OLD` reads), so a
// one-line change between two builds costs a few KiB on the wire. The rebuilt file is checked
// against the new build's signature like a downloaded one: a patch is never trusted by itself.
#pragma once

#include <molt/fetcher.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace molt::internal {

// The patch from `from` to `to`; nullopt and `error` when libzstd fails or cannot be loaded.
std::optional<std::string> make_patch(std::string_view from, std::string_view to,
                                      std::string& error);

// Rebuilds the new file from `from` and `patch` into `out`; false and `error` ("the patch is
// corrupt: ...", or the sink's refusal) otherwise.
bool apply_patch(std::string_view from, std::string_view patch, Sink& out, std::string& error);

// Where a patch from build `build_id` sits beside the source: "<source>.patch/<name>", the name
// being the BuildID with every byte outside [A-Za-z0-9._-] written %XX (Go's BuildIDs hold '/').
std::string patch_name(const std::string& build_id);

}  // namespace molt::internal
