#include "fetchers/curl_api.hpp"

#include <dlfcn.h>

#include <string_view>

namespace molt::internal {
namespace {

// dlerror() names the file first ("libcurl.so.4: cannot open shared object file: ..."), which
// our message does already: keep only the cause. A path (a file found on the search path but
// refused) is not the soname, and stays: it says which file.
std::string dl_cause(const char* soname) {
  const char* raw = dlerror();
  std::string_view cause = raw ? raw : "unknown error";
  std::string prefix = std::string(soname) + ": ";
  if (cause.starts_with(prefix)) cause.remove_prefix(prefix.size());
  return std::string(cause);
}

template <typename Fn>
bool resolve(void* library, const char* symbol, Fn& fn) {
  fn = reinterpret_cast<Fn>(dlsym(library, symbol));
  return fn != nullptr;
}

}  // namespace

CurlLoad load_curl(const char* soname) {
  CurlLoad load;
  // RTLD_NOW: a library missing one of its own symbols fails here, not in the middle of a poll.
  void* library = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    load.error = std::string("cannot load ") + soname + ": " + dl_cause(soname);
    return load;
  }
  CurlApi& api = load.api;
  const char* missing = nullptr;
  auto need = [&](const char* symbol, auto& fn) {
    if (!missing && !resolve(library, symbol, fn)) missing = symbol;
  };
  need("curl_global_init", api.global_init);
  need("curl_easy_init", api.easy_init);
  need("curl_easy_cleanup", api.easy_cleanup);
  need("curl_easy_reset", api.easy_reset);
  need("curl_easy_setopt", api.easy_setopt);
  need("curl_easy_getinfo", api.easy_getinfo);
  need("curl_easy_perform", api.easy_perform);
  need("curl_easy_strerror", api.easy_strerror);
  need("curl_slist_append", api.slist_append);
  need("curl_slist_free_all", api.slist_free_all);
  need("curl_getdate", api.getdate);
  if (missing) {
    load.error = std::string("cannot load ") + soname + ": it has no " + missing;
    load.api = CurlApi{};
    dlclose(library);  // nothing of it ran, nor will
    return load;
  }
  CURLcode rc = api.global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) {
    load.error = std::string("cannot initialise ") + soname + ": " + api.easy_strerror(rc);
    load.api = CurlApi{};
  }
  return load;
}

const CurlLoad& curl_api() {
  static const CurlLoad load = load_curl(kCurlSoname);
  return load;
}

}  // namespace molt::internal
