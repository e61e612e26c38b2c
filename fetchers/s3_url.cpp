#include "fetchers/s3_url.hpp"

#include <algorithm>
#include <charconv>

#include "fetchers/http_text.hpp"
#include "fetchers/sigv4.hpp"

namespace molt::internal::s3 {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool is_unreserved(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool has_dot_segment(std::string_view path) {
  while (!path.empty()) {
    std::size_t slash = path.find('/');
    std::string_view segment = path.substr(0, slash);
    if (segment == "." || segment == "..") return true;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return false;
}

int default_port(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

// Reads "host", "host:port", "[v6]" or "[v6]:port" into `endpoint`; returns what is wrong, or "".
std::string parse_authority(std::string_view authority, Endpoint& endpoint) {
  std::size_t host_end = 0;
  if (authority.starts_with('[')) {
    host_end = authority.find(']');
    if (host_end == std::string_view::npos) return "unclosed [IPv6] host";
    ++host_end;
  } else {
    host_end = std::min(authority.size(), authority.find(':'));
  }
  endpoint.host = lowercase(authority.substr(0, host_end));
  std::string_view after = authority.substr(host_end);
  if (endpoint.host.empty()) return "no host";
  if (after.empty()) return "";
  if (!after.starts_with(':')) return "junk after the host";
  std::string_view port = after.substr(1);
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), endpoint.port);
  if (ec != std::errc() || end != port.data() + port.size() || endpoint.port < 1 ||
      endpoint.port > 65535) {
    return "bad port";
  }
  if (endpoint.port == default_port(endpoint.scheme)) endpoint.port = 0;
  return "";
}

// What is wrong with an endpoint URL's path, or "".
std::string check_base_path(std::string_view path) {
  if (has_dot_segment(path.empty() ? path : path.substr(1))) {
    return "'.' and '..' path segments are not supported";
  }
  for (char c : path) {
    if (!is_unreserved(c) && c != '/') return "its path may hold only A-Z a-z 0-9 - . _ ~ /";
  }
  return "";
}

}  // namespace

std::string Endpoint::origin() const {
  std::string out = scheme + "://" + host;
  if (port != 0) out += ":" + std::to_string(port);
  return out + base_path;
}

std::optional<ObjectName> parse_s3_url(std::string_view source, std::string& error) {
  const std::string quoted = "s3 source \"" + std::string(source) + "\": ";
  if (!lowercase(source.substr(0, 5)).starts_with("s3://")) {
    error = quoted + "not an s3://bucket/key URL";
    return std::nullopt;
  }
  std::string_view rest = source.substr(5);
  std::size_t slash = rest.find('/');
  ObjectName name{std::string(rest.substr(0, slash)), ""};
  if (slash != std::string_view::npos) name.key = rest.substr(slash + 1);
  bool bucket_ok = !name.bucket.empty() && name.bucket.size() <= 255;
  for (char c : name.bucket) bucket_ok = bucket_ok && is_unreserved(c) && c != '~';
  if (!bucket_ok) {
    error = quoted + "bucket name \"" + name.bucket + "\" is not one S3 allows";
  } else if (name.key.empty() || name.key.back() == '/') {
    error = quoted + "must name an object, not a bucket or a folder";
  } else if (has_dot_segment(name.key)) {
    error = quoted + "'.' and '..' key segments are not supported (HTTP clients remove them)";
  } else {
    return name;
  }
  return std::nullopt;
}

std::optional<Endpoint> aws_endpoint(std::string_view region, std::string& error) {
  bool ok = !region.empty();
  for (char c : region) ok = ok && (is_lower_alnum(c) || c == '-');
  if (!ok) {
    error = "AWS region \"" + std::string(region) + "\" is not a region name (like eu-west-3)";
    return std::nullopt;
  }
  Endpoint endpoint{"https", "s3." + std::string(region) + ".amazonaws.com", 0, "", true};
  if (region.starts_with("cn-")) endpoint.host += ".cn";
  return endpoint;
}

std::optional<Endpoint> parse_endpoint(std::string_view url, std::string& error) {
  // Quoted without userinfo or query: a misplaced secret must not reach the error line.
  const std::string quoted = "S3 endpoint \"" + redact_url(std::string(url)) + "\": ";
  std::size_t scheme_end = url.find("://");
  Endpoint endpoint;
  endpoint.scheme = lowercase(url.substr(0, scheme_end));
  if (scheme_end == std::string_view::npos ||
      (endpoint.scheme != "http" && endpoint.scheme != "https")) {
    error = quoted + "must start with http:// or https://";
    return std::nullopt;
  }
  std::string_view rest = url.substr(scheme_end + 3);
  std::size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view path = path_start == std::string_view::npos ? "" : rest.substr(path_start);
  while (path.ends_with('/')) path.remove_suffix(1);

  std::string why;
  if (authority.find('@') != std::string_view::npos) {
    why = "credentials do not belong in the URL";
  } else if (path.find_first_of("?#") != std::string_view::npos) {
    why = "no query or fragment allowed";
  } else {
    why = parse_authority(authority, endpoint);
    if (why.empty()) why = check_base_path(path);
  }
  if (!why.empty()) {
    error = quoted + why;
    return std::nullopt;
  }
  endpoint.base_path = path;
  return endpoint;
}

bool virtual_hostable(std::string_view bucket, bool tls) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  if (!is_lower_alnum(bucket.front()) || !is_lower_alnum(bucket.back())) return false;
  if (bucket.find("..") != std::string_view::npos) return false;
  bool all_digits_and_dots = true;
  for (char c : bucket) {
    if (!is_lower_alnum(c) && c != '-' && c != '.') return false;
    if (c == '.' && tls) return false;
    all_digits_and_dots = all_digits_and_dots && ((c >= '0' && c <= '9') || c == '.');
  }
  return !all_digits_and_dots;  // "192.168.5.4" would read as an address
}

std::optional<Target> object_target(const Endpoint& endpoint, S3Options::Style style,
                                    const std::string& bucket, const std::string& key,
                                    std::string& error) {
  bool tls = endpoint.scheme == "https";
  bool virtual_host =
      style == S3Options::Style::kVirtualHosted ||
      (style == S3Options::Style::kAuto && endpoint.aws && virtual_hostable(bucket, tls));
  if (virtual_host && (!virtual_hostable(bucket, false) || endpoint.host.starts_with('['))) {
    error = "bucket \"" + bucket + "\" cannot be part of the host name " + endpoint.host +
            ": use path-style addressing";
    return std::nullopt;
  }
  Target target;
  target.host = virtual_host ? bucket + "." + endpoint.host : endpoint.host;
  if (endpoint.port != 0) target.host += ":" + std::to_string(endpoint.port);
  target.path = endpoint.base_path + (virtual_host ? "" : "/" + bucket) + "/" + key;
  target.url = endpoint.scheme + "://" + target.host + uri_encode(target.path, true);
  return target;
}

}  // namespace molt::internal::s3
