// A Sys that fails one chosen call, for tests of what a failed syscall leaves behind.
#pragma once

#include <cerrno>
#include <string>

#include "util/sys.hpp"

namespace molt::internal {

// Passes every call to the real one, except call number `fail_at` (counting from 1), which
// fails with `error` as a full disk or a broken filesystem would.
class FaultySys final : public Sys {
 public:
  explicit FaultySys(int fail_at, int error = EIO) : fail_at_(fail_at), error_(error) {}
  int calls() const { return calls_; }
  std::string failed_call() const { return failed_call_; }

  int open(const char* p, int f, mode_t m) override {
    return fail("open") ? -1 : real_sys().open(p, f, m);
  }
  ssize_t write(int fd, const void* d, std::size_t n) override {
    return fail("write") ? -1 : real_sys().write(fd, d, n);
  }
  int fsync(int fd) override { return fail("fsync") ? -1 : real_sys().fsync(fd); }
  int fchmod(int fd, mode_t m) override { return fail("fchmod") ? -1 : real_sys().fchmod(fd, m); }
  int close(int fd) override {
    real_sys().close(fd);  // never leak the fd, even when reporting a failure
    return fail("close") ? -1 : 0;
  }
  int link(const char* a, const char* b) override {
    return fail("link") ? -1 : real_sys().link(a, b);
  }
  int rename(const char* a, const char* b) override {
    return fail("rename") ? -1 : real_sys().rename(a, b);
  }
  int unlink(const char* p) override { return fail("unlink") ? -1 : real_sys().unlink(p); }

 private:
  bool fail(const char* name) {
    if (++calls_ != fail_at_) return false;
    failed_call_ = name;
    errno = error_;
    return true;
  }
  int fail_at_;
  int error_;
  int calls_ = 0;
  std::string failed_call_;
};

}  // namespace molt::internal
