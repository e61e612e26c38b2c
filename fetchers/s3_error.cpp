#include "fetchers/s3_error.hpp"

#include <array>
#include <charconv>
#include <ctime>

#include "fetchers/http_text.hpp"

namespace molt::internal::s3 {
namespace {

constexpr std::chrono::minutes kAllowedSkew{15};

std::string unescape_xml(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, char>, 5> kEntities{
      {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}}};
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    bool replaced = false;
    for (const auto& [entity, c] : kEntities) {
      if (text.substr(i, entity.size()) == entity) {
        out += c;
        i += entity.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += text[i];
  }
  return out;
}

// The text of the first <tag>...</tag> in `xml`, or "".
std::string element(std::string_view xml, std::string_view tag) {
  std::string open = "<" + std::string(tag) + ">";
  std::string close = "</" + std::string(tag) + ">";
  std::size_t start = xml.find(open);
  if (start == std::string_view::npos) return {};
  start += open.size();
  std::size_t end = xml.find(close, start);
  if (end == std::string_view::npos) return {};
  return unescape_xml(xml.substr(start, end - start));
}

// The region in an S3 host name: "b.s3.eu-west-1.amazonaws.com" -> "eu-west-1".
std::string region_of_host(std::string_view host) {
  std::size_t at = host.starts_with("s3.") ? 0 : host.find(".s3.");
  if (at == std::string_view::npos) return {};
  std::string_view rest = host.substr(host.find("s3.", at) + 3);
  if (rest.starts_with("amazonaws.com")) return "us-east-1";
  std::size_t dot = rest.find('.');
  return dot == std::string_view::npos ? std::string() : std::string(rest.substr(0, dot));
}

std::string skew_line(const FailedAnswer& answer, const ErrorDocument& doc,
                      const RequestContext& request) {
  std::optional<Clock::time_point> server = parse_http_date(answer.date);
  if (!server) server = parse_iso8601(doc.server_time);
  if (!server) {
    return "this machine's clock is more than " + format_duration(kAllowedSkew) +
           " off the server's: fix the clock (NTP)";
  }
  auto skew = std::chrono::duration_cast<std::chrono::seconds>(*server - request.sent_at);
  return "this machine's clock is " + format_duration(skew < skew.zero() ? -skew : skew) +
         (skew < skew.zero() ? " ahead of" : " behind") + " the server's (S3 allows " +
         format_duration(kAllowedSkew) + "): fix the clock (NTP)";
}

std::string keys_from(const RequestContext& request) {
  return "the credentials from " + request.credentials_origin;
}

// The cause, in words about what to change, for the codes a misconfigured source meets.
std::string explain(const FailedAnswer& answer, const ErrorDocument& doc,
                    const RequestContext& request) {
  const std::string& code = doc.code;
  if (code == "NoSuchBucket") return "no such bucket at " + request.endpoint;
  if (code == "AccessDenied" && request.credentials_origin == "anonymous") {
    return "access denied to unsigned requests: the object is not public, give credentials";
  }
  if (code == "AccessDenied") {
    return "access denied to " + keys_from(request) +
           " (without s3:ListBucket, S3 says this for a missing object too)";
  }
  if (code == "InvalidAccessKeyId") {
    return "the access key from " + request.credentials_origin + " is unknown to " +
           request.endpoint;
  }
  if (code == "SignatureDoesNotMatch") {
    return "the secret key from " + request.credentials_origin + " does not match its access key";
  }
  if (code == "ExpiredToken" || code == "TokenRefreshRequired") {
    return "the session token from " + request.credentials_origin + " has expired";
  }
  if (code == "InvalidToken") {
    return "the session token from " + request.credentials_origin + " is not valid";
  }
  if (code == "RequestTimeTooSkewed") return skew_line(answer, doc, request);
  std::string region = !doc.region.empty() ? doc.region : region_of_host(doc.endpoint);
  if ((code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" ||
       code == "IllegalLocationConstraintException") &&
      !region.empty() && region != request.region) {
    return "the bucket is in region " + server_text(region) + ", not " + request.region +
           ": set AWS_REGION or the S3 options' region";
  }
  if (code == "PermanentRedirect" && !doc.endpoint.empty()) {
    return "the bucket is served at " + server_text(doc.endpoint) + ", not at " + request.endpoint;
  }
  return server_text(doc.message.empty() ? answer.status_line : doc.message);
}

bool read_int(std::string_view text, std::size_t at, std::size_t size, int& out) {
  if (at + size > text.size()) return false;
  auto [end, ec] = std::from_chars(text.data() + at, text.data() + at + size, out);
  return ec == std::errc() && end == text.data() + at + size;
}

std::optional<Clock::time_point> from_utc(std::tm& tm) {
  std::time_t t = timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return Clock::from_time_t(t);
}

}  // namespace

std::optional<ErrorDocument> parse_error_document(std::string_view body) {
  std::size_t root = body.find("<Error>");
  if (root == std::string_view::npos) root = body.find("<Error ");
  if (root == std::string_view::npos) return std::nullopt;
  std::string_view xml = body.substr(root);
  ErrorDocument doc{element(xml, "Code"), element(xml, "Message"), element(xml, "Region"),
                    element(xml, "Endpoint"), element(xml, "ServerTime")};
  if (doc.code.empty()) return std::nullopt;
  return doc;
}

Verdict judge(const FailedAnswer& answer, const RequestContext& request) {
  std::optional<ErrorDocument> doc = parse_error_document(answer.body);
  if (!doc) {
    std::string type =
        answer.content_type.empty() ? "no body type" : server_text(answer.content_type);
    return {false, request.object + ": " + server_text(answer.status_line) + " from " +
                       request.endpoint + ", not an S3 answer (" + type +
                       "): is the endpoint right?"};
  }
  if (doc->code == "NoSuchKey") return {true, ""};
  return {false, request.object + ": " + explain(answer, *doc, request) + " (" +
                     server_text(answer.status_line) + " " + server_text(doc->code) + ")"};
}

std::optional<Clock::time_point> parse_http_date(std::string_view text) {
  // "Fri, 24 May 2013 00:15:00 GMT": RFC 9110's IMF-fixdate, the only form S3 sends.
  static constexpr std::array<std::string_view, 12> kMonths{
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (text.size() != 29 || text.substr(3, 2) != ", " || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_mon = -1;
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (text.substr(8, 3) == kMonths[i]) tm.tm_mon = static_cast<int>(i);
  }
  int year = 0;
  if (tm.tm_mon < 0 || !read_int(text, 5, 2, tm.tm_mday) || !read_int(text, 12, 4, year) ||
      !read_int(text, 17, 2, tm.tm_hour) || !read_int(text, 20, 2, tm.tm_min) ||
      !read_int(text, 23, 2, tm.tm_sec)) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  return from_utc(tm);
}

std::optional<Clock::time_point> parse_iso8601(std::string_view text) {
  // "2013-05-24T00:15:00Z", or "2013-05-24T00:15:00.123Z".
  std::tm tm{};
  int year = 0;
  int month = 0;
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || !text.ends_with('Z') || !read_int(text, 0, 4, year) ||
      !read_int(text, 5, 2, month) || !read_int(text, 8, 2, tm.tm_mday) ||
      !read_int(text, 11, 2, tm.tm_hour) || !read_int(text, 14, 2, tm.tm_min) ||
      !read_int(text, 17, 2, tm.tm_sec)) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  return from_utc(tm);
}

std::string format_duration(std::chrono::seconds duration) {
  long long s = duration.count();
  auto two = [](long long n) { return (n < 10 ? "0" : "") + std::to_string(n); };
  if (s >= 86400) return std::to_string(s / 86400) + "d" + two(s % 86400 / 3600) + "h";
  if (s >= 3600) return std::to_string(s / 3600) + "h" + two(s % 3600 / 60) + "m";
  if (s >= 60 && s % 60 == 0) return std::to_string(s / 60) + "m";
  if (s >= 60) return std::to_string(s / 60) + "m" + two(s % 60) + "s";
  return std::to_string(s) + "s";
}

}  // namespace molt::internal::s3
