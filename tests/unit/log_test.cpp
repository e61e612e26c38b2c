// molt's logger: JSON lines that a collector can parse whatever a message holds.
#include "util/log.hpp"

#include <gtest/gtest.h>

#include <string>

namespace molt::internal {
namespace {

TEST(JsonEscapeTest, EscapesWhatJsonMustAndKeepsUtf8) {
  EXPECT_EQ(json_escape("plain"), "plain");
  EXPECT_EQ(json_escape("a \"quoted\" \\ path"), "a \\\"quoted\\\" \\\\ path");
  EXPECT_EQ(json_escape("line\nnext\ttab\x01"), "line\\nnext\\u0009tab\\u0001");
  EXPECT_EQ(json_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82");
}

TEST(JsonEscapeTest, ReplacesBytesThatAreNotUtf8) {
  EXPECT_EQ(json_escape("\xff"), "\\ufffd");
  EXPECT_EQ(json_escape("a\xc3"), "a\\ufffd");                      // a sequence cut short
  EXPECT_EQ(json_escape("\xc0\xaf"), "\\ufffd\\ufffd");             // an overlong '/'
  EXPECT_EQ(json_escape("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");  // a surrogate
}

}  // namespace
}  // namespace molt::internal
