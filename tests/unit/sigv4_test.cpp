// SigV4 against the worked examples of AWS's "Signature Calculations for the Authorization Header:
// Transferring Payload in a Single Chunk" (Amazon S3 API reference, sig-v4-header-based-auth):
// every intermediate string must match the page byte for byte, not only the final signature.
#include "fetchers/sigv4.hpp"

#include <gtest/gtest.h>

namespace molt::internal::s3 {
namespace {

const Credentials kExample{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
const Clock::time_point kMay24 = Clock::from_time_t(1369353600);  // 2013-05-24T00:00:00Z
constexpr char kHost[] = "examplebucket.s3.amazonaws.com";
constexpr char kScope[] = "20130524/us-east-1/s3/aws4_request";

Signature sign_example(const Request& request) {
  return sign(request, kExample, "us-east-1", "s3", kMay24);
}

std::string authorization(std::string_view signed_headers, std::string_view signature) {
  return "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
         "SignedHeaders=" +
         std::string(signed_headers) + ",Signature=" + std::string(signature);
}

std::string string_to_sign(std::string_view canonical_request_hash) {
  return "AWS4-HMAC-SHA256\n20130524T000000Z\n" + std::string(kScope) + "\n" +
         std::string(canonical_request_hash);
}

TEST(Sigv4Example, GetObjectWithRange) {
  Request request{"GET", kHost, "/test.txt", {}, {{"Range", "bytes=0-9"}}};
  add_amz_headers(request, kExample, kMay24, kEmptyPayloadSha256);
  Signature s = sign_example(request);
  EXPECT_EQ(
      s.canonical_request,
      "GET\n"
      "/test.txt\n"
      "\n"
      "host:examplebucket.s3.amazonaws.com\n"
      "range:bytes=0-9\n"
      "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n"
      "\n"
      "host;range;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.string_to_sign,
            string_to_sign("7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"));
  EXPECT_EQ(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(s.authorization,
            authorization("host;range;x-amz-content-sha256;x-amz-date",
                          "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"));
}

TEST(Sigv4Example, PutObject) {
  const std::string body_hash = sha256_hex("Welcome to Amazon S3.");
  ASSERT_EQ(body_hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  Request request{
      "PUT",
      kHost,
      "/test$file.text",
      {},
      {{"Date", "Fri, 24 May 2013 00:00:00 GMT"}, {"x-amz-storage-class", "REDUCED_REDUNDANCY"}}};
  add_amz_headers(request, kExample, kMay24, body_hash);
  Signature s = sign_example(request);
  EXPECT_EQ(
      s.canonical_request,
      "PUT\n"
      "/test%24file.text\n"
      "\n"
      "date:Fri, 24 May 2013 00:00:00 GMT\n"
      "host:examplebucket.s3.amazonaws.com\n"
      "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
      "x-amz-date:20130524T000000Z\n"
      "x-amz-storage-class:REDUCED_REDUNDANCY\n"
      "\n"
      "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
      "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  EXPECT_EQ(s.string_to_sign,
            string_to_sign("9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"));
  EXPECT_EQ(s.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  EXPECT_EQ(s.authorization,
            authorization("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                          "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"));
}

TEST(Sigv4Example, GetBucketLifecycle) {
  Request request{"GET", kHost, "/", {{"lifecycle", ""}}, {}};
  add_amz_headers(request, kExample, kMay24, kEmptyPayloadSha256);
  Signature s = sign_example(request);
  EXPECT_EQ(
      s.canonical_request,
      "GET\n"
      "/\n"
      "lifecycle=\n"
      "host:examplebucket.s3.amazonaws.com\n"
      "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n"
      "\n"
      "host;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.string_to_sign,
            string_to_sign("9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca"));
  EXPECT_EQ(s.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  EXPECT_EQ(s.authorization,
            authorization("host;x-amz-content-sha256;x-amz-date",
                          "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"));
}

TEST(Sigv4Example, GetBucketListObjects) {
  // Given out of order: the canonical query sorts them.
  Request request{"GET", kHost, "/", {{"prefix", "J"}, {"max-keys", "2"}}, {}};
  add_amz_headers(request, kExample, kMay24, kEmptyPayloadSha256);
  Signature s = sign_example(request);
  EXPECT_EQ(
      s.canonical_request,
      "GET\n"
      "/\n"
      "max-keys=2&prefix=J\n"
      "host:examplebucket.s3.amazonaws.com\n"
      "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n"
      "\n"
      "host;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.string_to_sign,
            string_to_sign("df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7"));
  EXPECT_EQ(s.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  EXPECT_EQ(s.authorization,
            authorization("host;x-amz-content-sha256;x-amz-date",
                          "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"));
}

TEST(Sigv4, UriEncodeKeepsOnlyUnreservedAndSlash) {
  EXPECT_EQ(uri_encode("AZaz09-._~", false), "AZaz09-._~");
  EXPECT_EQ(uri_encode("a b+c=d&e%f$g", true), "a%20b%2Bc%3Dd%26e%25f%24g");
  EXPECT_EQ(uri_encode("dir//sub/", true), "dir//sub/");
  EXPECT_EQ(uri_encode("dir/sub", false), "dir%2Fsub");
  EXPECT_EQ(uri_encode("\xc3\xa9\xe2\x98\x83", true), "%C3%A9%E2%98%83");  // é☃ as UTF-8 bytes
  EXPECT_EQ(uri_encode(std::string_view("\0\x7f\xff", 3), true), "%00%7F%FF");
}

TEST(Sigv4, PathIsEncodedOnceNotTwice) {
  Request request{"GET", "h", "/a%20b/c d", {}, {}};
  Signature s = sign(request, kExample, "us-east-1", "s3", kMay24);
  EXPECT_EQ(s.canonical_request.substr(0, 19), "GET\n/a%2520b/c%20d\n");
}

TEST(Sigv4, CanonicalQuerySortsByEncodedNameThenValue) {
  EXPECT_EQ(canonical_query({{"b", "2"}, {"a", "z"}, {"a", "y"}, {"A", ""}, {"a b", "c/d"}}),
            "A=&a=y&a=z&a%20b=c%2Fd&b=2");
  EXPECT_EQ(canonical_query({}), "");
}

TEST(Sigv4, HeadersAreLowercasedTrimmedAndJoined) {
  Request request{
      "GET", "h", "/k", {}, {{"X-Custom", "  a   b  "}, {"x-custom", "c"}, {"HOST", "ignored"}}};
  Signature s = sign(request, kExample, "us-east-1", "s3", kMay24);
  EXPECT_NE(s.canonical_request.find("\nhost:h\nx-custom:a b,c\n\nhost;x-custom\n"),
            std::string::npos)
      << s.canonical_request;
}

TEST(Sigv4, SessionTokenIsSentAndSigned) {
  Credentials temporary = kExample;
  temporary.session_token = "FQoGZXIvYXdzE//token+with/slashes=";
  Request request{"GET", kHost, "/k", {}, {}};
  add_amz_headers(request, temporary, kMay24);
  add_amz_headers(request, temporary, kMay24);  // a retry replaces, never duplicates
  ASSERT_EQ(request.headers.size(), 3u);
  Signature s = sign(request, temporary, "us-east-1", "s3", kMay24);
  EXPECT_NE(s.canonical_request.find("x-amz-security-token:FQoGZXIvYXdzE//token+with/slashes=\n"),
            std::string::npos);
  EXPECT_NE(s.authorization.find("SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                                 "x-amz-security-token,"),
            std::string::npos);
  EXPECT_TRUE(s.canonical_request.ends_with("\nUNSIGNED-PAYLOAD"));
}

TEST(Sigv4, SecretNeverAppearsInTheOutput) {
  Request request{"GET", kHost, "/k", {}, {}};
  add_amz_headers(request, kExample, kMay24);
  Signature s = sign(request, kExample, "us-east-1", "s3", kMay24);
  for (const std::string& text : {s.canonical_request, s.string_to_sign, s.authorization}) {
    EXPECT_EQ(text.find(kExample.secret_access_key), std::string::npos);
  }
}

TEST(Sigv4, AmzDateIsUtc) {
  EXPECT_EQ(amz_date(Clock::from_time_t(0)), "19700101T000000Z");
  EXPECT_EQ(amz_date(Clock::from_time_t(1700000000) + std::chrono::milliseconds(999)),
            "20231114T221320Z");
}

}  // namespace
}  // namespace molt::internal::s3
