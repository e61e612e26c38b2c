// The one piece of code that moves bytes over HTTP(S) with libcurl. The http and s3 fetchers
// both call transfer(); each turns the status into a FetchResult its own way. The first transfer
// in a process loads libcurl (curl_api.hpp); if it cannot, every transfer fails saying why.
//
// A transfer is bounded: options.max_size (checked against Content-Length before the body and
// again while it streams), connect, stall and total timeouts, options.max_redirects. TLS is
// always verified; a redirect never leaves https, and the configured headers and the request's
// own (credentials) go only to the request's origin, never to another host a redirect names.
// A 2xx body goes to the Sink as it arrives,
// gunzipped on the way when the URL path ends in ".gz" or the server says Content-Encoding: gzip.
#pragma once

#include <cstddef>
#include <cstdint>
#include <molt/config.hpp>
#include <molt/fetcher.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fetchers/http_text.hpp"

namespace molt::internal {

inline constexpr std::size_t kErrorBodyCap = 16 * 1024;

struct TransferRequest {
  std::string method = "GET";  // "HEAD" asks for no body
  std::string url;
  std::vector<std::string> headers;  // "Name: value", sent after options.headers
  Validator since;                   // non-empty: If-None-Match / If-Modified-Since
};

struct TransferResult {
  long status = 0;     // HTTP status of the last response; 0 when none arrived
  std::string reason;  // its reason phrase, e.g. "Service Unavailable"
  std::string etag;    // response headers, verbatim
  std::string last_modified;
  std::string date;
  std::string content_type;
  std::uint64_t body_size = 0;  // bytes given to the sink (after gunzip)
  std::string error_body;       // a non-2xx body, its first kErrorBodyCap bytes (S3's XML errors)
  std::string error;  // one line: redacted URL and cause; empty when the response came whole

  bool ok() const { return error.empty(); }
  // "503 Service Unavailable"
  std::string status_line() const;
};

// Sends the request and waits for the whole response. On a 2xx, the body went to `sink`
// (sink.reset() first); on any other status the sink is untouched.
TransferResult transfer(const TransferRequest& request, const HttpOptions& options, Sink& sink);

// Loads libcurl now (Fetcher::load_ahead), rather than in the first transfer.
void load_transfer_library();

// The conditional header (name, value) for an object last seen as `since`, none when empty:
// If-None-Match when there is an ETag, else If-Modified-Since. The date only without an ETag
// (RFC 9110 13.1.3: the ETag decides): dates have one-second resolution, and a server may
// answer 304 to an old enough date though the ETag differs (s3rver does).
std::optional<std::pair<std::string, std::string>> conditional_header(const Validator& since);

}  // namespace molt::internal
