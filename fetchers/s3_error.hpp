// S3's answers other than the object, each turned into one line that names the object and says
// what to do. S3 explains a refusal in an XML document:
//
//   <Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>...</Error>
//
// NoSuchKey means "not there yet" (FetchResult kMissing); every other answer is a failure. An
// answer with no such document came from something that is not S3 (a proxy, a web server).
// Nothing the server sent reaches a line unfiltered: no control characters, bounded length.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "fetchers/sigv4.hpp"

namespace molt::internal::s3 {

struct ErrorDocument {
  std::string code;         // "NoSuchKey"
  std::string message;      // S3's own sentence
  std::string region;       // AuthorizationHeaderMalformed: the region the bucket is in
  std::string endpoint;     // PermanentRedirect: the host that serves the bucket
  std::string server_time;  // RequestTimeTooSkewed: "2013-05-24T00:15:00Z"
};

// nullopt when `body` is not an S3 error document.
std::optional<ErrorDocument> parse_error_document(std::string_view body);

// An answer that was not the object (not 200, not 304).
struct FailedAnswer {
  long status = 0;
  std::string status_line;  // "403 Forbidden"
  std::string body;         // the first bytes of the body
  std::string content_type;
  std::string date;  // the server's Date header
};

// What the fetcher knows about the request that got the answer.
struct RequestContext {
  std::string object;              // "s3://bucket/app.minisig"
  std::string endpoint;            // Endpoint::origin()
  std::string region;              // the region the request was signed for
  std::string credentials_origin;  // Settings::credentials_origin ("anonymous": unsigned)
  Clock::time_point sent_at;       // its x-amz-date
};

struct Verdict {
  bool missing = false;  // NoSuchKey
  std::string error;     // otherwise: one line
};

Verdict judge(const FailedAnswer& answer, const RequestContext& request);

// "Fri, 24 May 2013 00:15:00 GMT" (the HTTP Date form S3 sends); nullopt for anything else.
std::optional<Clock::time_point> parse_http_date(std::string_view text);

// "2013-05-24T00:15:00Z" or with fractional seconds ("...00.123Z"); nullopt for anything else.
std::optional<Clock::time_point> parse_iso8601(std::string_view text);

// A clock difference for people: "42s", "17m03s", "2h05m", "3d04h".
std::string format_duration(std::chrono::seconds duration);

}  // namespace molt::internal::s3
