// A file mapped read-only, to read it whole without a copy: the running build a delta patch is
// rebuilt from (it may be hundreds of MiB).
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace molt::internal {

class MappedFile {
 public:
  // nullopt and `error` ("<path>: <cause>") when it cannot be opened or mapped.
  static std::optional<MappedFile> open(const std::string& path, std::string& error) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
      error = path + ": " + std::strerror(errno);
      return std::nullopt;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      error = path + ": " + (S_ISREG(st.st_mode) ? std::strerror(errno) : "not a regular file");
      ::close(fd);
      return std::nullopt;
    }
    MappedFile file;
    file.size_ = static_cast<std::size_t>(st.st_size);
    if (file.size_ > 0) {
      void* data = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (data == MAP_FAILED) {
        error = path + ": mmap: " + std::strerror(errno);
        ::close(fd);
        return std::nullopt;
      }
      file.data_ = data;
    }
    ::close(fd);  // the mapping keeps the file
    return file;
  }

  MappedFile(MappedFile&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  MappedFile& operator=(MappedFile&&) = delete;
  MappedFile(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_) ::munmap(data_, size_);
  }

  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }

 private:
  MappedFile() = default;
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace molt::internal
