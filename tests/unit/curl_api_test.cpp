// Loading libcurl at run time: the real library once per process, and clear one-line failures
// when the library is not there or is not libcurl.
#include "fetchers/curl_api.hpp"

#include <gtest/gtest.h>

#include <string>

namespace molt::internal {
namespace {

TEST(CurlApi, LoadsLibcurlOnceAndCallsThroughIt) {
  const CurlLoad& first = curl_api();
  ASSERT_TRUE(first.ok()) << first.error;
  EXPECT_EQ(&curl_api(), &first);
  const CurlApi& api = first.api;
  CURL* curl = api.easy_init();
  ASSERT_NE(curl, nullptr);
  // The variadic ones, through their variadic pointers.
  EXPECT_EQ(api.easy_setopt(curl, CURLOPT_MAXREDIRS, 5L), CURLE_OK);
  EXPECT_EQ(api.easy_setopt(curl, CURLOPT_URL, "http://127.0.0.1:1/"), CURLE_OK);
  long status = -1;
  EXPECT_EQ(api.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status), CURLE_OK);
  EXPECT_EQ(status, 0);
  api.easy_cleanup(curl);
  // RFC 9110's example date.
  EXPECT_EQ(api.getdate("Sun, 06 Nov 1994 08:49:37 GMT", nullptr), 784111777);
  EXPECT_STREQ(api.easy_strerror(CURLE_OK), "No error");
}

TEST(CurlApi, AMissingLibraryIsOneLineNamingItAndTheCause) {
  CurlLoad load = load_curl("libmolt-test-no-such-library.so.0");
  EXPECT_FALSE(load.ok());
  EXPECT_EQ(load.error,
            "cannot load libmolt-test-no-such-library.so.0: cannot open shared object file: No "
            "such file or directory");
  EXPECT_EQ(load.api.easy_perform, nullptr);
}

TEST(CurlApi, ALibraryThatIsNotLibcurlNamesTheFirstMissingFunction) {
  CurlLoad load = load_curl("libz.so.1");
  EXPECT_FALSE(load.ok());
  EXPECT_EQ(load.error, "cannot load libz.so.1: it has no curl_global_init");
  EXPECT_EQ(load.api.global_init, nullptr);
}

}  // namespace
}  // namespace molt::internal
