// Address and duration parsing.
#include <gtest/gtest.h>

#include <molt/duration.hpp>

#include "util/address.hpp"

namespace molt::internal {
namespace {

using namespace std::chrono_literals;

Address parse_ok(std::string_view text) {
  std::string error;
  std::optional<Address> a = parse_address(text, 0, error);
  EXPECT_TRUE(a) << text << ": " << error;
  return a.value_or(Address{});
}

std::string parse_error(std::string_view text) {
  std::string error;
  EXPECT_FALSE(parse_address(text, 0, error)) << text;
  return error;
}

TEST(AddressTest, Ipv4HostAndPort) {
  Address a = parse_ok("127.0.0.1:8080");
  EXPECT_EQ(a.kind, Address::Kind::kTcp);
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 8080);
  EXPECT_EQ(a.name, "listen0");
  EXPECT_EQ(a.to_string(), "127.0.0.1:8080");
}

TEST(AddressTest, Ipv6InBrackets) {
  Address a = parse_ok("[::1]:443");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 443);
  EXPECT_EQ(a.to_string(), "[::1]:443");
}

TEST(AddressTest, EveryAddressAndLocalhost) {
  EXPECT_EQ(parse_ok(":80").host, "");
  EXPECT_EQ(parse_ok("localhost:80").host, "127.0.0.1");
}

TEST(AddressTest, UnixPathAndName) {
  Address a = parse_ok("admin=unix:/run/app.sock");
  EXPECT_EQ(a.kind, Address::Kind::kUnix);
  EXPECT_EQ(a.path, "/run/app.sock");
  EXPECT_EQ(a.name, "admin");
}

TEST(AddressTest, ErrorsNameTheAddressAndTheCause) {
  EXPECT_EQ(parse_error("8080"),
            "listen address \"8080\": expected HOST:PORT, [V6]:PORT or unix:PATH");
  EXPECT_NE(parse_error("127.0.0.1:99999").find("port must be a number from 0 to 65535"),
            std::string::npos);
  EXPECT_NE(parse_error("::1:80").find("IPv6 needs brackets"), std::string::npos);
  EXPECT_NE(parse_error("[::1:80").find("missing ']'"), std::string::npos);
  EXPECT_NE(parse_error("[zz]:80").find("bad IPv6 address"), std::string::npos);
  EXPECT_NE(parse_error("example.com:80").find("numeric address"), std::string::npos);
  EXPECT_NE(parse_error("unix:").find("empty unix socket path"), std::string::npos);
  EXPECT_NE(parse_error("unix:/" + std::string(200, 'a')).find("longer than"), std::string::npos);
  EXPECT_NE(parse_error("a:b=127.0.0.1:80").find("may not contain ':'"), std::string::npos);
  EXPECT_NE(parse_error("127.0.0.1:").find("port must be"), std::string::npos);
  EXPECT_NE(parse_error("127.0.0.1:80x").find("port must be"), std::string::npos);
}

std::chrono::milliseconds duration_ok(std::string_view text) {
  std::string error;
  auto d = parse_duration(text, error);
  EXPECT_TRUE(d) << text << ": " << error;
  return d.value_or(0ms);
}

// A name that does not fit is refused, never cut short: a cut path names another file.
TEST(AddressTest, UnixSocketAddressesFitOrAreRefused) {
  sockaddr_un sa;
  std::optional<socklen_t> path = unix_socket_address("/run/app.sock", sa);
  ASSERT_TRUE(path);
  EXPECT_STREQ(sa.sun_path, "/run/app.sock");
  std::optional<socklen_t> abstract = unix_socket_address("@molt/notify", sa);
  ASSERT_TRUE(abstract);
  EXPECT_EQ(sa.sun_path[0], '\0');
  EXPECT_EQ(std::string(sa.sun_path + 1, *abstract - offsetof(sockaddr_un, sun_path) - 1),
            "molt/notify");
  EXPECT_TRUE(unix_socket_address("/" + std::string(kMaxUnixSocketName - 1, 'a'), sa));
  EXPECT_FALSE(unix_socket_address("/" + std::string(kMaxUnixSocketName, 'a'), sa));
  EXPECT_FALSE(unix_socket_address("", sa));
}

TEST(DurationTest, Units) {
  EXPECT_EQ(duration_ok("500ms"), 500ms);
  EXPECT_EQ(duration_ok("2s"), 2s);
  EXPECT_EQ(duration_ok("1m"), 1min);
  EXPECT_EQ(duration_ok("1h"), 1h);
  EXPECT_EQ(duration_ok("1m30s"), 90s);
  EXPECT_EQ(duration_ok("0s"), 0ms);
}

TEST(DurationTest, Errors) {
  for (std::string_view bad :
       {"", "5", "ms", "-1s", "1.5s", "3d", "1s2", "99999999999999999999h"}) {
    std::string error;
    EXPECT_FALSE(parse_duration(bad, error)) << bad;
    EXPECT_TRUE(error.starts_with("duration \"" + std::string(bad) + "\": ")) << error;
  }
}

TEST(DurationTest, Format) {
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(2s), "2s");
  EXPECT_EQ(format_duration(1500ms), "1.5s");
  EXPECT_EQ(format_duration(2min), "2m");
}

}  // namespace
}  // namespace molt::internal
