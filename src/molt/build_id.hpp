// A build's identity, readable from the file without running it.
//
// A program names its build by compiling with -DMOLT_BUILD_ID="v2" in any file that includes
// <molt/molt.hpp> (or by writing MOLT_EMBED_BUILD_ID("v2") once at namespace scope). The id is
// stored in an ELF note section ".note.molt.build-id" (owner "molt", type 1). A binary without
// one is identified by its GNU build-id note (the linker's -Wl,--build-id), as lowercase hex, then
// by Go's build ID note (".note.go.buildid", as `go tool buildid` prints it), and a file with
// none of these (an ELF without notes, a script, a zipapp, a JAR) by its content: "sha256-" and
// the SHA-256 of the whole file in lowercase hex.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace molt {

namespace detail {
template <std::size_t N>
struct BuildIdNote {
  std::uint32_t name_size = 5;
  std::uint32_t desc_size = N - 1;
  std::uint32_t type = 1;
  char name[8] = {'m', 'o', 'l', 't', 0, 0, 0, 0};
  char desc[(N - 1 + 3) / 4 * 4] = {};
  constexpr explicit BuildIdNote(const char (&id)[N]) {
    for (std::size_t i = 0; i + 1 < N; ++i) desc[i] = id[i];
  }
};
}  // namespace detail

// Reads the BuildID of the file at `path`: the molt note, else the GNU build-id, else Go's, else
// sha256-<hex of the file>, so a BuildID is never empty. Returns nullopt and sets `error` when
// the file is unreadable, empty, a truncated or malformed ELF, or an ELF that is not an
// executable.
std::optional<std::string> read_build_id(const std::string& path, std::string& error);

}  // namespace molt

#define MOLT_EMBED_BUILD_ID(id)                                       \
  namespace molt::detail {                                            \
  [[gnu::used, gnu::section(".note.molt.build-id"),                   \
    gnu::aligned(4)]] inline constexpr BuildIdNote build_id_note{id}; \
  }

#if defined(MOLT_BUILD_ID)
MOLT_EMBED_BUILD_ID(MOLT_BUILD_ID)
#endif
