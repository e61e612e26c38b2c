// libcurl, loaded with dlopen on first use. Only the check helper transfers, so no molt program
// has libcurl (nor the ~30 libraries only it pulls in) among the libraries loaded at exec: every
// child starts, and every master sits, without them. <curl/curl.h> gives the types, constants
// and prototypes; the functions are called through this table, resolved with dlsym.
#pragma once

#include <curl/curl.h>

#include <string>

namespace molt::internal {

inline constexpr char kCurlSoname[] = "libcurl.so.4";

// Each member has the exact type of the libcurl function it points to (curl_easy_setopt and
// curl_easy_getinfo stay variadic), so calls go through correctly typed pointers.
struct CurlApi {
  decltype(&::curl_global_init) global_init = nullptr;
  decltype(&::curl_easy_init) easy_init = nullptr;
  decltype(&::curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&::curl_easy_reset) easy_reset = nullptr;
  decltype(&::curl_easy_setopt) easy_setopt = nullptr;
  decltype(&::curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&::curl_easy_perform) easy_perform = nullptr;
  decltype(&::curl_easy_strerror) easy_strerror = nullptr;
  decltype(&::curl_slist_append) slist_append = nullptr;
  decltype(&::curl_slist_free_all) slist_free_all = nullptr;
  decltype(&::curl_getdate) getdate = nullptr;
};

struct CurlLoad {
  CurlApi api;
  std::string error;  // one line, e.g. "cannot load libcurl.so.4: <cause>"; empty when loaded

  bool ok() const { return error.empty(); }
};

// Opens `soname`, resolves every CurlApi function and runs curl_global_init. The library is
// never closed: libcurl (and OpenSSL under it) keep one-time allocations in their globals, and
// handles may outlive any caller. Each call opens the library again; use curl_api().
CurlLoad load_curl(const char* soname);

// load_curl(kCurlSoname), once per process (thread-safe); the same answer every time after.
const CurlLoad& curl_api();

}  // namespace molt::internal
