#include "fetchers/curl_api.hpp"

#include "util/shared_library.hpp"

namespace molt::internal {

CurlLoad load_curl(const char* soname) {
  CurlLoad load;
  SharedLibrary library(soname);
  CurlApi& api = load.api;
  auto need = [&](const char* symbol, auto& fn) { library.need(symbol, fn); };
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
  if (!library.ok()) {
    load.error = library.error();
    load.api = CurlApi{};
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
