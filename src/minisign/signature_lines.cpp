// minisign's line rules, so molt reads exactly the files minisign reads.
#include <cstdint>

#include "minisign/signature_internal.hpp"

namespace molt::sig::detail {

std::optional<Line> LineReader::next() {
  if (rest_.empty()) return std::nullopt;
  Line line;
  std::size_t end = rest_.find('\n');
  line.terminated = end != std::string_view::npos;
  line.raw_size = line.terminated ? end + 1 : rest_.size();
  line.text = rest_.substr(0, line.terminated ? end : rest_.size());
  rest_.remove_prefix(line.raw_size);
  if (!line.text.empty() && line.text.back() == '\r') line.text.remove_suffix(1);
  return line;
}

namespace {

// Bytes in a UTF-8 sequence that starts with `lead`, or 0 if it cannot start one.
std::size_t utf8_length(unsigned char lead) {
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

}  // namespace

bool is_printable(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\t' || (c >= 0x20 && c <= 0x7e)) {
      ++i;
      continue;
    }
    std::size_t length = utf8_length(c);
    if (length == 0 || i + length > text.size()) return false;
    std::uint32_t code_point = c & (length == 2 ? 0x1f : length == 3 ? 0x0f : 0x07);
    for (std::size_t k = 1; k < length; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      code_point = (code_point << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates, beyond U+10FFFF, and C1 controls.
    auto second = static_cast<unsigned char>(text[i + 1]);
    if ((c == 0xe0 && second < 0xa0) || (c == 0xed && second > 0x9f) ||
        (c == 0xf0 && second < 0x90) || (c == 0xf4 && second > 0x8f) ||
        (code_point >= 0x7f && code_point <= 0x9f)) {
      return false;
    }
    i += length;
  }
  return true;
}

}  // namespace molt::sig::detail
