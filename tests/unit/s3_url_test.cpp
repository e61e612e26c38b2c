// Where S3 requests go: s3:// names, endpoints, virtual-hosted and path-style URLs.
#include "fetchers/s3_url.hpp"

#include <gtest/gtest.h>

namespace molt::internal::s3 {
namespace {

using Style = S3Options::Style;

ObjectName name(std::string_view source) {
  std::string error;
  auto parsed = parse_s3_url(source, error);
  EXPECT_TRUE(parsed) << error;
  return parsed.value_or(ObjectName{});
}

std::string name_error(std::string_view source) {
  std::string error;
  EXPECT_FALSE(parse_s3_url(source, error)) << source;
  return error;
}

Endpoint endpoint(std::string_view url) {
  std::string error;
  auto parsed = parse_endpoint(url, error);
  EXPECT_TRUE(parsed) << error;
  return parsed.value_or(Endpoint{});
}

std::string endpoint_error(std::string_view url) {
  std::string error;
  EXPECT_FALSE(parse_endpoint(url, error)) << url;
  return error;
}

Endpoint aws(std::string_view region) {
  std::string error;
  auto parsed = aws_endpoint(region, error);
  EXPECT_TRUE(parsed) << error;
  return parsed.value_or(Endpoint{});
}

Target target(const Endpoint& e, Style style, const std::string& bucket, const std::string& key) {
  std::string error;
  auto t = object_target(e, style, bucket, key, error);
  EXPECT_TRUE(t) << error;
  return t.value_or(Target{});
}

TEST(S3Url, ParsesBucketAndLiteralKey) {
  ObjectName n = name("s3://molt-bucket/releases/v2/app");
  EXPECT_EQ(n.bucket, "molt-bucket");
  EXPECT_EQ(n.key, "releases/v2/app");
  EXPECT_EQ(n.uri(), "s3://molt-bucket/releases/v2/app");
  EXPECT_EQ(name("s3://b/my%20file?x#y").key, "my%20file?x#y");  // keys are literal
  EXPECT_EQ(name("s3://b/a.../..x/.y").key, "a.../..x/.y");
  EXPECT_EQ(name("S3://Legacy_Bucket/app").bucket, "Legacy_Bucket");
}

TEST(S3Url, RefusesWhatIsNotAnObject) {
  EXPECT_NE(name_error("https://b/app").find("not an s3://bucket/key URL"), std::string::npos);
  EXPECT_NE(name_error("s3://b").find("must name an object"), std::string::npos);
  EXPECT_NE(name_error("s3://b/").find("must name an object"), std::string::npos);
  EXPECT_NE(name_error("s3://b/dir/").find("must name an object"), std::string::npos);
  EXPECT_NE(name_error("s3:///app").find("bucket name"), std::string::npos);
  EXPECT_NE(name_error("s3://user@b/app").find("bucket name"), std::string::npos);
  EXPECT_EQ(name_error("s3://b/a/../app"),
            "s3 source \"s3://b/a/../app\": '.' and '..' key segments are not supported (HTTP "
            "clients remove them)");
  EXPECT_NE(name_error("s3://b/./app").find("'.' and '..'"), std::string::npos);
}

TEST(S3Url, AwsEndpointByRegion) {
  Endpoint e = aws("eu-west-3");
  EXPECT_EQ(e.origin(), "https://s3.eu-west-3.amazonaws.com");
  EXPECT_TRUE(e.aws);
  EXPECT_EQ(aws("cn-north-1").host, "s3.cn-north-1.amazonaws.com.cn");
  std::string error;
  EXPECT_FALSE(aws_endpoint("eu west", error));
  EXPECT_NE(error.find("not a region name"), std::string::npos);
}

TEST(S3Url, ParsesCustomEndpoints) {
  Endpoint e = endpoint("http://127.0.0.1:4568");
  EXPECT_EQ(e.scheme, "http");
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 4568);
  EXPECT_FALSE(e.aws);
  EXPECT_EQ(endpoint("https://minio.local:443/").origin(), "https://minio.local");
  EXPECT_EQ(endpoint("HTTP://LocalHost:80").origin(), "http://localhost");
  EXPECT_EQ(endpoint("http://[::1]:9000").host, "[::1]");
  EXPECT_EQ(endpoint("https://gw.example/s3/v1/").base_path, "/s3/v1");
}

TEST(S3Url, RefusesBadEndpointsWithoutQuotingSecrets) {
  EXPECT_NE(endpoint_error("localhost:9000").find("must start with http:// or https://"),
            std::string::npos);
  EXPECT_NE(endpoint_error("ftp://host").find("must start with"), std::string::npos);
  std::string error = endpoint_error("https://AKID:hunter2@host");
  EXPECT_NE(error.find("credentials do not belong"), std::string::npos);
  EXPECT_EQ(error.find("hunter2"), std::string::npos);
  error = endpoint_error("https://host/?X-Amz-Signature=hunter2");
  EXPECT_EQ(error.find("hunter2"), std::string::npos);
  EXPECT_NE(endpoint_error("http://host:0").find("bad port"), std::string::npos);
  EXPECT_NE(endpoint_error("http://host:65536").find("bad port"), std::string::npos);
  EXPECT_NE(endpoint_error("http://host:http").find("bad port"), std::string::npos);
  EXPECT_NE(endpoint_error("http://[::1").find("unclosed"), std::string::npos);
  EXPECT_NE(endpoint_error("http://:9000").find("no host"), std::string::npos);
  EXPECT_NE(endpoint_error("http://h/a/../b").find("'.' and '..'"), std::string::npos);
  EXPECT_NE(endpoint_error("http://h/a b").find("its path may hold only"), std::string::npos);
}

TEST(S3Url, VirtualHostableBuckets) {
  EXPECT_TRUE(virtual_hostable("molt-bucket", true));
  EXPECT_FALSE(virtual_hostable("my.bucket", true));  // *.s3.amazonaws.com would not match
  EXPECT_TRUE(virtual_hostable("my.bucket", false));
  EXPECT_FALSE(virtual_hostable("ab", false));
  EXPECT_FALSE(virtual_hostable("Upper", false));
  EXPECT_FALSE(virtual_hostable("under_score", false));
  EXPECT_FALSE(virtual_hostable("-dash", false));
  EXPECT_FALSE(virtual_hostable("a..b", false));
  EXPECT_FALSE(virtual_hostable("192.168.1.1", false));
  EXPECT_FALSE(virtual_hostable(std::string(64, 'a'), false));
}

TEST(S3Url, AwsIsVirtualHostedWhenTheBucketAllows) {
  Target t = target(aws("eu-west-3"), Style::kAuto, "molt-bucket", "dir/my app+1");
  EXPECT_EQ(t.url, "https://molt-bucket.s3.eu-west-3.amazonaws.com/dir/my%20app%2B1");
  EXPECT_EQ(t.host, "molt-bucket.s3.eu-west-3.amazonaws.com");
  EXPECT_EQ(t.path, "/dir/my app+1");

  t = target(aws("eu-west-3"), Style::kAuto, "my.bucket", "app");
  EXPECT_EQ(t.url, "https://s3.eu-west-3.amazonaws.com/my.bucket/app");
  EXPECT_EQ(t.path, "/my.bucket/app");

  t = target(aws("us-east-1"), Style::kPath, "molt-bucket", "app");
  EXPECT_EQ(t.url, "https://s3.us-east-1.amazonaws.com/molt-bucket/app");
}

TEST(S3Url, CustomEndpointsArePathStyleUnlessForced) {
  Target t = target(endpoint("http://127.0.0.1:4568"), Style::kAuto, "molt-bucket", "ünï/app");
  EXPECT_EQ(t.url, "http://127.0.0.1:4568/molt-bucket/%C3%BCn%C3%AF/app");
  EXPECT_EQ(t.host, "127.0.0.1:4568");
  EXPECT_EQ(t.path, "/molt-bucket/ünï/app");

  t = target(endpoint("http://localhost:9000"), Style::kVirtualHosted, "molt-bucket", "app");
  EXPECT_EQ(t.url, "http://molt-bucket.localhost:9000/app");
  EXPECT_EQ(t.host, "molt-bucket.localhost:9000");

  t = target(endpoint("https://gw.example/s3"), Style::kAuto, "b1b", "k");
  EXPECT_EQ(t.url, "https://gw.example/s3/b1b/k");
  EXPECT_EQ(t.path, "/s3/b1b/k");
}

TEST(S3Url, ForcedVirtualHostingNeedsAHostName) {
  std::string error;
  EXPECT_FALSE(
      object_target(endpoint("http://[::1]:9000"), Style::kVirtualHosted, "bucket", "k", error));
  EXPECT_NE(error.find("use path-style addressing"), std::string::npos);
  EXPECT_FALSE(object_target(aws("us-east-1"), Style::kVirtualHosted, "Legacy_Bucket", "k", error));
  EXPECT_NE(error.find("\"Legacy_Bucket\" cannot be part of the host name"), std::string::npos);
}

}  // namespace
}  // namespace molt::internal::s3
