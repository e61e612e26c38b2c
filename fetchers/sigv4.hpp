// AWS Signature Version 4 for S3, as "Signature Calculations for the Authorization Header:
// Transferring Payload in a Single Chunk" describes it, with OpenSSL's SHA-256 and HMAC.
//
//   canonical request = METHOD \n URI-encoded path \n sorted query \n
//                       lowercase-name:trimmed-value lines \n \n signed header names \n payload
//                       hash
//   string to sign    = "AWS4-HMAC-SHA256" \n amz date \n date/region/service/aws4_request \n
//                       hex(sha256(canonical request))
//   signing key       = HMAC chain of "AWS4"+secret over date, region, service, "aws4_request"
//
// sign() is a pure function of the request, the credentials, the region and the time, so tests
// pin it to AWS's published examples and to botocore byte for byte.
//
//   s3::Request r{"GET", "bucket.s3.us-east-1.amazonaws.com", "/app.minisig", {}, {}};
//   s3::add_amz_headers(r, creds, now);
//   r.headers.emplace_back("Authorization", s3::sign(r, creds, "us-east-1", "s3",
//   now).authorization);
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace molt::internal::s3 {

using Clock = std::chrono::system_clock;
using Param = std::pair<std::string, std::string>;

// x-amz-content-sha256 for a body the signature does not cover; fine over TLS, and a GET has none.
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials (STS) only

  bool anonymous() const { return access_key_id.empty(); }
};

struct Request {
  std::string method;          // "GET"
  std::string host;            // the Host header, with the port when it is not the default
  std::string path;            // decoded ("/dir/my key"): sign() encodes it as S3 does
  std::vector<Param> query;    // decoded names and values, in any order
  std::vector<Param> headers;  // every header to sign except Host, names in any case
};

struct Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;      // 64 lowercase hex digits
  std::string authorization;  // the Authorization header value
};

// The request's signing time as SigV4 writes it: "20130524T000000Z".
std::string amz_date(Clock::time_point time);

// Sets (replacing any earlier value) x-amz-date, x-amz-content-sha256 and, for temporary
// credentials, x-amz-security-token: the headers S3 requires beside the signature.
void add_amz_headers(Request& request, const Credentials& credentials, Clock::time_point time,
                     std::string_view payload_hash = kUnsignedPayload);

// Signs every header in `request` plus Host. The payload hash is the request's
// x-amz-content-sha256 header (UNSIGNED-PAYLOAD when it has none); x-amz-date must be `time`.
Signature sign(const Request& request, const Credentials& credentials, std::string_view region,
               std::string_view service, Clock::time_point time);

// S3's URI encoding: every byte but A-Z a-z 0-9 - . _ ~ becomes %XX (uppercase hex); '/' too,
// unless `keep_slash` (paths). S3 encodes a path once: no double encoding as other services do.
std::string uri_encode(std::string_view text, bool keep_slash);

// The canonical query string: names and values encoded, sorted by name then value, joined by
// '&'. It is also a valid query string for the request's URL.
std::string canonical_query(const std::vector<Param>& query);

std::string sha256_hex(std::string_view data);

}  // namespace molt::internal::s3
