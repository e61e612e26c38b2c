// JSON for molt's own small documents: JSON log lines, and the control socket's requests and
// answers (protocol/control.hpp). Enough for flat objects of strings, numbers and booleans with
// nested objects built by the caller; not a general JSON library.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace molt::internal {

// `text` as a JSON string's contents: quotes, backslashes and control characters escaped, bytes
// that are not UTF-8 replaced by U+FFFD (a message may carry what a child said).
std::string json_escape(std::string_view text);
// `text` as a JSON string, quotes included.
std::string json_quote(std::string_view text);

// One JSON object, its fields in the order they are added.
class JsonObject {
 public:
  JsonObject& string(std::string_view key, std::string_view value);
  JsonObject& number(std::string_view key, std::int64_t value);
  JsonObject& number(std::string_view key, double value);  // 3 decimals: times in seconds
  JsonObject& boolean(std::string_view key, bool value);
  // `json`: an object, an array or null made elsewhere.
  JsonObject& raw(std::string_view key, std::string_view json);
  std::string str() const { return "{" + fields_ + "}"; }

 private:
  void key(std::string_view key);
  std::string fields_;
};

// Items that are JSON already, as one array.
std::string json_array(const std::vector<std::string>& items);
std::string json_string_array(const std::vector<std::string>& items);

// One flat object, as a control request is: {"key": "string" | number | true | false | null}.
// Values come back as text: strings unescaped, numbers and booleans as written; a null drops
// the key. nullopt and one line in `error` for anything else: nesting, a repeated key, bytes
// after the object, a string that is not valid UTF-8.
using FlatJson = std::map<std::string, std::string>;
std::optional<FlatJson> parse_flat_json_object(std::string_view text, std::string& error);

}  // namespace molt::internal
