// Where an S3 object is on the wire: the s3://bucket/key a source names, the endpoint that
// serves it, and the URL, Host and signed path of one request.
//
//   AWS, virtual-hosted  https://bucket.s3.eu-west-3.amazonaws.com/dir/app
//   AWS, path-style      https://s3.eu-west-3.amazonaws.com/my.bucket/dir/app  (dotted bucket, TLS)
//   custom endpoint      http://127.0.0.1:4568/bucket/dir/app   (path-style unless forced)
//
// Keys are taken literally, as the AWS CLI takes them: s3://b/my%20file names "my%20file".
#pragma once

#include <molt/config.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace molt::internal::s3 {

struct ObjectName {
  std::string bucket;
  std::string key;

  std::string uri() const { return "s3://" + bucket + "/" + key; }
};

// Parses "s3://bucket/key". Refuses "." and ".." key segments: HTTP clients remove them from
// paths (RFC 3986), so the object asked for would not be the one named.
std::optional<ObjectName> parse_s3_url(std::string_view source, std::string& error);

struct Endpoint {
  std::string scheme;     // "http" or "https"
  std::string host;       // "s3.eu-west-3.amazonaws.com", "127.0.0.1", "[::1]"
  int port = 0;           // 0: the scheme's default
  std::string base_path;  // "" or "/prefix", from an endpoint URL with a path
  bool aws = false;       // AWS's own endpoint for the region

  // "https://s3.eu-west-3.amazonaws.com": for error lines.
  std::string origin() const;
};

// AWS's regional endpoint: s3.<region>.amazonaws.com (.com.cn for China regions).
std::optional<Endpoint> aws_endpoint(std::string_view region, std::string& error);

// A custom endpoint URL: scheme, host, optional port and path; no query, no credentials.
std::optional<Endpoint> parse_endpoint(std::string_view url, std::string& error);

// Whether `bucket` can be a host name label: lowercase DNS, and over TLS no dots (they would not
// match the *.s3 wildcard certificate).
bool virtual_hostable(std::string_view bucket, bool tls);

// One request's target.
struct Target {
  std::string url;   // encoded, ready for the transfer
  std::string host;  // the Host header: with the port when it is not the scheme's default
  std::string path;  // decoded, as SigV4 signs it ("/bucket/key" or "/key")
};

// Virtual-hosted on AWS when the bucket allows it, path-style elsewhere, unless `style` forces
// one. Forcing virtual-hosted style on a bucket that cannot be a host name is an error.
std::optional<Target> object_target(const Endpoint& endpoint, S3Options::Style style,
                                    const std::string& bucket, const std::string& key,
                                    std::string& error);

}  // namespace molt::internal::s3
