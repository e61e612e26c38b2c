// The syscalls a swap makes, behind one seam so a test can make call N fail (as Envoy's
// OsSysCalls). Each returns the syscall's result, or -1 with errno set. A StagedFile calls
// fsync from a thread of its own while its own thread writes.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace molt::internal {

class Sys {
 public:
  virtual ~Sys() = default;
  virtual int open(const char* path, int flags, mode_t mode) = 0;
  virtual ssize_t write(int fd, const void* data, std::size_t size) = 0;
  virtual int fsync(int fd) = 0;
  virtual int fchmod(int fd, mode_t mode) = 0;
  virtual int close(int fd) = 0;
  virtual int link(const char* from, const char* to) = 0;
  virtual int rename(const char* from, const char* to) = 0;
  virtual int unlink(const char* path) = 0;
};

// The real calls.
Sys& real_sys();

}  // namespace molt::internal
