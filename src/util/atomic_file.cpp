#include "util/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "util/paths.hpp"

namespace molt::internal {

std::string fsync_dir(Sys& sys, const std::string& dir) {
  int fd = sys.open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) return cause("open", dir);
  std::string error;
  if (sys.fsync(fd) != 0) error = cause("fsync", dir);
  sys.close(fd);
  return error;
}

std::string write_file_atomically(Sys& sys, const std::string& path, std::string_view contents,
                                  mode_t mode, Durability durability) {
  const bool sync = durability == Durability::kMachineCrash;
  const std::string tmp = path + ".tmp";
  sys.unlink(tmp.c_str());  // O_EXCL below: never write through what another left there
  int fd = sys.open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return cause("create", tmp);
  std::string error;
  for (std::size_t done = 0; error.empty() && done < contents.size();) {
    ssize_t n = sys.write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) error = cause("write", tmp);
    if (n > 0) done += static_cast<std::size_t>(n);
  }
  if (error.empty() && sync && sys.fsync(fd) != 0) error = cause("fsync", tmp);
  if (sys.close(fd) != 0 && error.empty()) error = cause("close", tmp);
  if (error.empty() && sys.rename(tmp.c_str(), path.c_str()) != 0) error = cause("rename to", path);
  if (!error.empty()) {
    sys.unlink(tmp.c_str());
    return error;
  }
  return sync ? fsync_dir(sys, dir_of(path)) : std::string();
}

std::string make_private_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return cause("create", path);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return cause("stat", path);
  if (!S_ISDIR(st.st_mode)) return path + ": not a directory";
  if (st.st_uid != ::geteuid()) {
    return path + ": owned by uid " + std::to_string(st.st_uid) + ", not by this user (uid " +
           std::to_string(::geteuid()) + ")";
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return path + ": other users may write to it (mode " + mode + ")";
  }
  return {};
}

}  // namespace molt::internal
