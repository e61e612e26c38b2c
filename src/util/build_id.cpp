// Reads a BuildID from an ELF file's section headers, without running the file.
#include "util/build_id.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <molt/build_id.hpp>
#include <string_view>
#include <vector>

#include "util/sha256.hpp"

namespace molt {
namespace {

constexpr std::string_view kMoltNoteSection = ".note.molt.build-id";
constexpr std::string_view kGnuNoteSection = ".note.gnu.build-id";
// Go's linker writes the build ID `go tool buildid` prints here (owner "Go", type 4).
constexpr std::string_view kGoNoteSection = ".note.go.buildid";
constexpr std::uint32_t kGoBuildIdType = 4;
constexpr std::string_view kContentHashPrefix = "sha256-";

struct Note {
  std::string_view owner;
  std::uint32_t type = 0;
  std::string_view desc;
};

// Walks the notes in one section's bytes.
std::vector<Note> parse_notes(std::string_view bytes) {  // views into `bytes`
  std::vector<Note> notes;
  auto align4 = [](std::size_t n) { return (n + 3) & ~std::size_t{3}; };
  std::size_t pos = 0;
  while (pos + 12 <= bytes.size()) {
    std::uint32_t header[3];
    std::memcpy(header, bytes.data() + pos, sizeof header);
    std::size_t name_at = pos + 12;
    std::size_t desc_at = name_at + align4(header[0]);
    std::size_t end = desc_at + align4(header[1]);
    if (desc_at > bytes.size() || desc_at + header[1] > bytes.size()) break;
    std::string_view owner = bytes.substr(name_at, header[0]);
    while (!owner.empty() && owner.back() == '\0') owner.remove_suffix(1);  // Go pads "Go\0\0"
    notes.push_back({owner, header[2], bytes.substr(desc_at, header[1])});
    pos = end;
  }
  return notes;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : bytes) {
    hex += kDigits[c >> 4];
    hex += kDigits[c & 15];
  }
  return hex;
}

// Reads only the headers and the note sections: an artifact may be hundreds of MiB.
class ElfFile {
 public:
  ElfFile(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  std::uint64_t size() const { return size_; }
  std::string read(std::uint64_t offset, std::uint64_t length) const {
    if (offset > size_ || length > size_ - offset) return {};
    std::string bytes(length, '\0');
    ssize_t n = ::pread(fd_, bytes.data(), length, static_cast<off_t>(offset));
    if (n < 0 || static_cast<std::uint64_t>(n) != length) return {};
    return bytes;
  }
  // The SHA-256 of the whole file as lowercase hex, read in one pass of 64 KiB chunks.
  std::optional<std::string> sha256_hex(std::string& error) const {
    internal::Sha256 hash;
    std::vector<unsigned char> chunk(64 * 1024);
    off_t offset = 0;
    for (;;) {
      ssize_t n = ::pread(fd_, chunk.data(), chunk.size(), offset);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error = std::string("cannot hash the file: ") + std::strerror(errno);
        return std::nullopt;
      }
      if (n == 0) break;
      hash.update(chunk.data(), static_cast<std::size_t>(n));
      offset += n;
    }
    internal::Sha256::Digest digest = hash.finish();
    return to_hex(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
  }

 private:
  int fd_;
  std::uint64_t size_;
};

template <typename Ehdr, typename Shdr>
std::optional<std::string> find_build_id(const ElfFile& file, std::string& error) {
  Ehdr ehdr;
  std::string header = file.read(0, sizeof ehdr);
  if (header.size() != sizeof ehdr) {
    error = "truncated ELF header";
    return std::nullopt;
  }
  std::memcpy(&ehdr, header.data(), sizeof ehdr);
  if (ehdr.e_type != ET_EXEC && ehdr.e_type != ET_DYN) {
    error = "not an executable (ELF type " + std::to_string(ehdr.e_type) + ")";
    return std::nullopt;
  }
  std::uint64_t table_end = ehdr.e_shoff + std::uint64_t{ehdr.e_shnum} * sizeof(Shdr);
  if (ehdr.e_shentsize != sizeof(Shdr) || table_end > file.size() ||
      ehdr.e_shstrndx >= ehdr.e_shnum) {
    error = "truncated or malformed ELF section table";
    return std::nullopt;
  }
  std::vector<Shdr> sections(ehdr.e_shnum);
  std::string table = file.read(ehdr.e_shoff, ehdr.e_shnum * sizeof(Shdr));
  if (table.size() != ehdr.e_shnum * sizeof(Shdr)) {
    error = "truncated ELF section table";
    return std::nullopt;
  }
  std::memcpy(sections.data(), table.data(), table.size());
  auto contents = [&](const Shdr& s) -> std::string {
    // Note and name sections are small; anything larger is not what we look for.
    if (s.sh_type == SHT_NOBITS || s.sh_size > (1u << 20)) return {};
    return file.read(s.sh_offset, s.sh_size);
  };
  std::string names = contents(sections[ehdr.e_shstrndx]);
  auto name_of = [&](const Shdr& s) -> std::string_view {
    if (s.sh_name >= names.size()) return {};
    std::string_view rest = std::string_view(names).substr(s.sh_name);
    return rest.substr(0, rest.find('\0'));
  };
  std::optional<std::string> gnu_id;
  std::optional<std::string> go_id;
  for (const Shdr& s : sections) {
    std::string_view name = name_of(s);
    if (name == kMoltNoteSection) {
      std::string bytes = contents(s);
      for (const Note& note : parse_notes(bytes)) {
        if (note.owner == "molt" && note.type == 1 && !note.desc.empty()) {
          return std::string(note.desc);
        }
      }
    } else if (name == kGnuNoteSection) {
      std::string bytes = contents(s);
      for (const Note& note : parse_notes(bytes)) {
        if (note.owner == "GNU" && note.type == NT_GNU_BUILD_ID && !note.desc.empty()) {
          gnu_id = to_hex(note.desc);
        }
      }
    } else if (name == kGoNoteSection) {
      std::string bytes = contents(s);
      for (const Note& note : parse_notes(bytes)) {
        if (note.owner == "Go" && note.type == kGoBuildIdType && !note.desc.empty()) {
          go_id = std::string(note.desc);
        }
      }
    }
  }
  if (gnu_id) return gnu_id;
  if (go_id) return go_id;
  // Neither note: the build is named by its content.
  std::optional<std::string> hash = file.sha256_hex(error);
  if (!hash) return std::nullopt;
  return std::string(kContentHashPrefix) + *hash;
}

}  // namespace

namespace internal {

std::optional<std::string> build_id_or_cause(const std::string& path, std::string& cause) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    cause = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return std::nullopt;
  }
  ElfFile file(fd, static_cast<std::uint64_t>(st.st_size));
  std::string ident = file.read(0, EI_NIDENT);
  std::optional<std::string> id;
  if (st.st_size == 0) {
    cause = "an empty file";
  } else if (ident.size() != EI_NIDENT || std::memcmp(ident.data(), ELFMAG, SELFMAG) != 0) {
    // A script, a zipapp, a JAR: named by its content.
    if (std::optional<std::string> hash = file.sha256_hex(cause)) {
      id = std::string(kContentHashPrefix) + *hash;
    }
  } else if (ident[EI_DATA] != ELFDATA2LSB) {
    cause = "big-endian ELF is not supported";
  } else if (ident[EI_CLASS] == ELFCLASS64) {
    id = find_build_id<Elf64_Ehdr, Elf64_Shdr>(file, cause);
  } else {
    id = find_build_id<Elf32_Ehdr, Elf32_Shdr>(file, cause);
  }
  ::close(fd);
  return id;
}

bool is_elf_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char magic[SELFMAG];
  bool elf = ::pread(fd, magic, SELFMAG, 0) == SELFMAG && std::memcmp(magic, ELFMAG, SELFMAG) == 0;
  ::close(fd);
  return elf;
}

}  // namespace internal

std::optional<std::string> read_build_id(const std::string& path, std::string& error) {
  std::string cause;
  std::optional<std::string> id = internal::build_id_or_cause(path, cause);
  if (!id) error = path + ": " + cause;
  return id;
}

}  // namespace molt
