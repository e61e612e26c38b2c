#include "master/ready_mode.hpp"

#include <gtest/gtest.h>

namespace molt::internal {
namespace {

using Kind = ReadyMode::Kind;

TEST(ReadyModeTest, EachModeIsParsed) {
  std::string error;
  EXPECT_EQ(ReadyMode::parse("notify", error)->kind, Kind::kNotify);
  EXPECT_EQ(ReadyMode::parse("tcp", error)->kind, Kind::kTcp);
  std::optional<ReadyMode> delay = ReadyMode::parse("delay:1500ms", error);
  ASSERT_TRUE(delay);
  EXPECT_EQ(delay->delay, std::chrono::milliseconds(1500));
  std::optional<ReadyMode> http = ReadyMode::parse("http:/healthz?deep=1", error);
  ASSERT_TRUE(http);
  EXPECT_EQ(http->kind, Kind::kHttp);
  EXPECT_EQ(http->path, "/healthz?deep=1");
  EXPECT_TRUE(http->needs_tcp_listener());
  std::optional<ReadyMode> exec = ReadyMode::parse("exec:curl -fs localhost/ready", error);
  ASSERT_TRUE(exec);
  EXPECT_EQ(exec->command, "curl -fs localhost/ready");
  EXPECT_FALSE(exec->needs_tcp_listener());
}

// The path goes into a request line as it is: nothing may end the line or smuggle a header.
TEST(ReadyModeTest, BadModesNameTheTextAndTheCause) {
  for (const char* text : {"http:healthz", "http:/a b", "http:/a\r\nX-Evil: 1",
                           "http:", "exec:", "exec:  ", "delay:soon", "delay:", "probe", ""}) {
    std::string error;
    EXPECT_FALSE(ReadyMode::parse(text, error)) << text;
    EXPECT_TRUE(error.starts_with("ready mode ")) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
}

}  // namespace
}  // namespace molt::internal
