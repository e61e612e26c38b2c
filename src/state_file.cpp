#include "state_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace molt {
namespace {

std::string file_in(const std::string& state_dir) { return state_dir + "/high-water"; }

}  // namespace

std::optional<std::int64_t> load_high_water(const std::string& state_dir) {
  std::ifstream in(file_in(state_dir));
  std::int64_t timestamp = 0;
  if (in >> timestamp) return timestamp;
  return std::nullopt;
}

std::string save_high_water(const std::string& state_dir, std::int64_t timestamp) {
  std::string path = file_in(state_dir);
  std::string tmp = path + ".tmp";
  auto fail = [&](const std::string& what) {
    return what + " " + tmp + ": " + std::strerror(errno);
  };
  if (::mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return "create " + state_dir + ": " + std::strerror(errno);
  }
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail("open");
  std::string text = std::to_string(timestamp) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  std::string error = ok ? "" : fail("write");
  ::close(fd);
  if (error.empty() && ::rename(tmp.c_str(), path.c_str()) != 0) error = fail("rename");
  return error;
}

}  // namespace molt
