// molt's own JSON: log lines a collector can parse whatever a message holds, and the control
// socket's flat requests, parsed strictly since another process wrote them.
#include "util/json.hpp"

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

TEST(JsonObjectTest, WritesFieldsInOrder) {
  JsonObject inner;
  inner.number("pid", std::int64_t{42});
  JsonObject o;
  o.string("build_id", "v\"2")
      .number("since", 1.5)
      .boolean("held", false)
      .raw("child", inner.str());
  o.raw("bad", json_string_array({"a", "b"}));
  EXPECT_EQ(o.str(),
            R"({"build_id":"v\"2","since":1.500,"held":false,"child":{"pid":42},"bad":["a","b"]})");
}

TEST(FlatJsonTest, ReadsStringsNumbersAndBooleans) {
  std::string error;
  auto o = parse_flat_json_object(
      R"( {"command": "hold", "reason": "incident \"42\"\n\u00e9\ud83d\ude42", "n": -1.5e3,)"
      R"( "wait": true, "gone": null} )",
      error);
  ASSERT_TRUE(o) << error;
  EXPECT_EQ(o->at("command"), "hold");
  EXPECT_EQ(o->at("reason"), "incident \"42\"\n\xc3\xa9\xf0\x9f\x99\x82");
  EXPECT_EQ(o->at("n"), "-1.5e3");
  EXPECT_EQ(o->at("wait"), "true");
  EXPECT_EQ(o->count("gone"), 0u);
  EXPECT_TRUE(parse_flat_json_object("{}", error));
}

TEST(FlatJsonTest, RefusesWhatIsNotOneFlatObject) {
  for (const char* text :
       {"", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":{}}", "{\"a\":[1]}", "{\"a\":1,}",
        "{\"a\":1} x", "{\"a\":1,\"a\":2}", "{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}",
        "{\"a\":\"\\ud800\"}", "{\"a\":\"\\q\"}", "{\"a\":\"open}", "{a:1}"}) {
    std::string error;
    EXPECT_FALSE(parse_flat_json_object(text, error)) << text;
    EXPECT_FALSE(error.empty()) << text;
  }
}

}  // namespace
}  // namespace molt::internal
