// A library loaded with dlopen on first use: libcurl, libcrypto, zlib and libzstd. No molt program
// has them in its DT_NEEDED, so an idle master maps none of them; the process that needs one
// (the check helper, a signing command) loads it once and keeps it.
//
//   SharedLibrary lib("libzstd.so.1");
//   lib.need("ZSTD_isError", api.is_error);  // each pointer has the function's exact type
//   if (!lib.ok()) ... lib.error() ...       // "cannot load libzstd.so.1: it has no ZSTD_isError"
#pragma once

#include <dlfcn.h>

#include <string>
#include <string_view>
#include <type_traits>

namespace molt::internal {

class SharedLibrary {
 public:
  // RTLD_NOW: a library missing one of its own symbols fails here, not in the middle of a poll.
  explicit SharedLibrary(const char* soname) : soname_(soname) {
    handle_ = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!handle_) error_ = "cannot load " + soname_ + ": " + cause();
  }

  // Resolves `symbol` into `fn`; after a failure, does nothing (the first missing one is named).
  template <typename Fn>
  void need(const char* symbol, Fn& fn) {
    if (!ok()) return;
    fn = reinterpret_cast<std::remove_reference_t<Fn>>(dlsym(handle_, symbol));
    if (!fn) error_ = "cannot load " + soname_ + ": it has no " + symbol;
  }

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  // dlerror() names the file first, which the message does already: keep only the cause. A path
  // (a file found on the search path but refused) is not the soname, and stays.
  std::string cause() const {
    const char* raw = dlerror();
    std::string_view text = raw ? raw : "unknown error";
    std::string prefix = soname_ + ": ";
    if (text.starts_with(prefix)) text.remove_prefix(prefix.size());
    return std::string(text);
  }

  std::string soname_;
  void* handle_ = nullptr;  // never closed: what a library allocates may outlive any caller
  std::string error_;
};

}  // namespace molt::internal
