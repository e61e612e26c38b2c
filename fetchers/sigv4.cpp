#include "fetchers/sigv4.hpp"

#include <string.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <ctime>
#include <map>

#include "util/sha256.hpp"

namespace molt::internal::s3 {
namespace {

using Digest = Sha256::Digest;

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

std::string to_hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    hex += kDigits[data[i] >> 4];
    hex += kDigits[data[i] & 0xf];
  }
  return hex;
}

Digest hmac(std::string_view key, std::string_view message) { return hmac_sha256(key, message); }

std::string_view view(const Digest& digest) {
  return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; });
  return out;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

// SigV4's Trimall: no space around the value, runs of spaces inside it become one.
std::string trim_all(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

// Lowercase name -> values joined by ',' in the order given; std::map keeps the names sorted.
std::map<std::string, std::string> canonical_headers(const Request& request) {
  std::map<std::string, std::string> headers;
  headers["host"] = trim_all(request.host);
  for (const auto& [name, value] : request.headers) {
    std::string key = lowercase(trim_all(name));
    if (key == "host") continue;  // request.host is the one the server sees
    auto [it, inserted] = headers.try_emplace(key, trim_all(value));
    if (!inserted) it->second += "," + trim_all(value);
  }
  return headers;
}

std::string header_value(const Request& request, std::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (lowercase(key) == name) return trim_all(value);
  }
  return {};
}

void set_header(Request& request, std::string_view name, std::string_view value) {
  std::erase_if(request.headers, [&](const Param& h) { return lowercase(h.first) == name; });
  request.headers.emplace_back(name, value);
}

std::string date_stamp(Clock::time_point time) { return amz_date(time).substr(0, 8); }

}  // namespace

std::string amz_date(Clock::time_point time) {
  std::time_t t = Clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[17];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &tm);
  return text;
}

std::string uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 0xf];
    }
  }
  return out;
}

std::string canonical_query(const std::vector<Param>& query) {
  std::vector<Param> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(uri_encode(name, false), uri_encode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name + '=' + value;
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Digest digest = Sha256::of(data);
  return to_hex(digest.data(), digest.size());
}

void add_amz_headers(Request& request, const Credentials& credentials, Clock::time_point time,
                     std::string_view payload_hash) {
  set_header(request, "x-amz-date", amz_date(time));
  set_header(request, "x-amz-content-sha256", payload_hash);
  if (!credentials.session_token.empty()) {
    set_header(request, "x-amz-security-token", credentials.session_token);
  }
}

Signature sign(const Request& request, const Credentials& credentials, std::string_view region,
               std::string_view service, Clock::time_point time) {
  const std::string date = date_stamp(time);
  const std::string scope =
      date + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";

  std::string names;
  std::string lines;
  for (const auto& [name, value] : canonical_headers(request)) {
    if (!names.empty()) names += ';';
    names += name;
    lines += name + ':' + value + '\n';
  }
  std::string payload_hash = header_value(request, "x-amz-content-sha256");
  if (payload_hash.empty()) payload_hash = kUnsignedPayload;

  Signature out;
  const std::string path = request.path.empty() ? "/" : uri_encode(request.path, true);
  out.canonical_request = request.method + '\n' + path + '\n' + canonical_query(request.query) +
                          '\n' + lines + '\n' + names + '\n' + payload_hash;
  out.string_to_sign = std::string(kAlgorithm) + '\n' + amz_date(time) + '\n' + scope + '\n' +
                       sha256_hex(out.canonical_request);

  // The derived keys are as good as the secret for a day: wipe them once used.
  std::string seed = "AWS4" + credentials.secret_access_key;
  Digest key = hmac(seed, date);
  ::explicit_bzero(seed.data(), seed.size());
  Digest next = hmac(view(key), region);
  key = hmac(view(next), service);
  next = hmac(view(key), "aws4_request");
  Digest mac = hmac(view(next), out.string_to_sign);
  ::explicit_bzero(key.data(), key.size());
  ::explicit_bzero(next.data(), next.size());

  out.signature = to_hex(mac.data(), mac.size());
  out.authorization = std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
                      scope + ",SignedHeaders=" + names + ",Signature=" + out.signature;
  return out;
}

}  // namespace molt::internal::s3
