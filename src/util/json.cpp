#include "util/json.hpp"

#include <cstdio>

namespace molt::internal {
namespace {

// The length of the UTF-8 sequence at the front of `s`, or 0 if it is not one.
std::size_t utf8_length(std::string_view s) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = byte(0);
  std::size_t n = c < 0x80           ? 1
                  : (c >> 5) == 0x6  ? 2
                  : (c >> 4) == 0xe  ? 3
                  : (c >> 3) == 0x1e ? 4
                                     : 0;
  if (n == 0 || n > s.size() || (n == 2 && c < 0xc2)) return 0;
  for (std::size_t i = 1; i < n; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
  }
  if (n == 3 && ((c == 0xe0 && byte(1) < 0xa0) || (c == 0xed && byte(1) >= 0xa0))) return 0;
  if (n == 4 && ((c == 0xf0 && byte(1) < 0x90) || c > 0xf4 || (c == 0xf4 && byte(1) >= 0x90))) {
    return 0;
  }
  return n;
}

void append_utf8(std::string& out, std::uint32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xc0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xe0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  }
}

// A cursor over the text of one flat object; each method says what it expected when it fails.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool at_end() const { return pos_ >= text_.size(); }
  bool take(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  std::size_t pos() const { return pos_; }

  std::optional<std::string> string(std::string& error) {
    if (!take('"')) return fail(error, "a string");
    std::string out;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) return fail(error, "no control character");
      if (c != '\\') {
        std::size_t n = utf8_length(text_.substr(pos_));
        if (n == 0) return fail(error, "UTF-8");
        out.append(text_.substr(pos_, n));
        pos_ += n;
        continue;
      }
      if (++pos_ >= text_.size()) break;
      switch (char e = text_[pos_++]) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          std::optional<std::uint32_t> code = hex4();
          if (code && *code >= 0xd800 && *code < 0xdc00 && text_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            std::optional<std::uint32_t> low = hex4();
            if (!low || *low < 0xdc00 || *low >= 0xe000) return fail(error, "a low surrogate");
            code = 0x10000 + ((*code - 0xd800) << 10) + (*low - 0xdc00);
          } else if (code && *code >= 0xd800 && *code < 0xe000) {
            return fail(error, "a whole surrogate pair");
          }
          if (!code) return fail(error, "4 hex digits");
          append_utf8(out, *code);
          break;
        }
        default:
          return fail(error, "an escape");
      }
    }
    return fail(error, "the end of the string");
  }

  // A number, true or false, as written.
  std::optional<std::string> scalar(std::string& error) {
    skip_space();
    std::size_t start = pos_;
    while (pos_ < text_.size() &&
           std::string_view("0123456789+-.eE").find(text_[pos_]) != std::string_view::npos) {
      ++pos_;
    }
    if (pos_ > start) return std::string(text_.substr(start, pos_ - start));
    for (std::string_view word : {"true", "false", "null"}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return std::string(word);
      }
    }
    return fail(error, "a string, number, true, false or null");
  }

  std::nullopt_t fail(std::string& error, std::string_view expected) {
    error = "expected " + std::string(expected) + " at byte " + std::to_string(pos_);
    return std::nullopt;
  }

 private:
  std::optional<std::uint32_t> hex4() {
    if (pos_ + 4 > text_.size()) return std::nullopt;
    std::uint32_t code = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      int digit = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
      if (digit < 0) return std::nullopt;
      code = code * 16 + static_cast<std::uint32_t>(digit);
    }
    return code;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string json_escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    unsigned char c = static_cast<unsigned char>(text.front());
    std::size_t n = utf8_length(text);
    if (n == 0) {
      out += "\\ufffd";
      n = 1;
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out.append(text.data(), n);
    }
    text.remove_prefix(n);
  }
  return out;
}

std::string json_quote(std::string_view text) { return "\"" + json_escape(text) + "\""; }

void JsonObject::key(std::string_view key) {
  if (!fields_.empty()) fields_ += ',';
  fields_ += json_quote(key);
  fields_ += ':';
}

JsonObject& JsonObject::string(std::string_view key, std::string_view value) {
  this->key(key);
  fields_ += json_quote(value);
  return *this;
}

JsonObject& JsonObject::number(std::string_view key, std::int64_t value) {
  this->key(key);
  fields_ += std::to_string(value);
  return *this;
}

JsonObject& JsonObject::number(std::string_view key, double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.3f", value);
  this->key(key);
  fields_ += text;
  return *this;
}

JsonObject& JsonObject::boolean(std::string_view key, bool value) {
  this->key(key);
  fields_ += value ? "true" : "false";
  return *this;
}

JsonObject& JsonObject::raw(std::string_view key, std::string_view json) {
  this->key(key);
  fields_ += json;
  return *this;
}

std::string json_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const std::string& item : items) out += (out.size() > 1 ? "," : "") + item;
  return out + "]";
}

std::string json_string_array(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  for (const std::string& item : items) quoted.push_back(json_quote(item));
  return json_array(quoted);
}

std::optional<FlatJson> parse_flat_json_object(std::string_view text, std::string& error) {
  Reader in(text);
  if (!in.take('{')) return in.fail(error, "an object");
  FlatJson object;
  if (!in.take('}')) {
    do {
      std::optional<std::string> key = in.string(error);
      if (!key) return std::nullopt;
      if (!in.take(':')) return in.fail(error, "':'");
      in.skip_space();
      const bool is_string = in.peek() == '"';
      std::optional<std::string> value = is_string ? in.string(error) : in.scalar(error);
      if (!value) return std::nullopt;
      if (object.count(*key)) {
        error = "the key \"" + json_escape(*key) + "\" is repeated";
        return std::nullopt;
      }
      if (!is_string && *value == "null") continue;
      object.emplace(std::move(*key), std::move(*value));
    } while (in.take(','));
    if (!in.take('}')) return in.fail(error, "',' or '}'");
  }
  in.skip_space();
  if (!in.at_end()) return in.fail(error, "the end after the object");
  return object;
}

}  // namespace molt::internal
