#include "minisign/base64.hpp"

#include <array>

namespace molt::internal {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint8_t kInvalid = 0xff;
constexpr std::uint8_t kPad = 0xfe;

constexpr std::array<std::uint8_t, 256> make_reverse() {
  std::array<std::uint8_t, 256> table{};
  for (auto& entry : table) entry = kInvalid;
  for (std::uint8_t i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = i;
  table['='] = kPad;
  return table;
}
constexpr auto kReverse = make_reverse();

}  // namespace

std::string base64_encode(const std::uint8_t* data, std::size_t size) {
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    std::uint32_t group = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    out += kAlphabet[(group >> 6) & 63];
    out += kAlphabet[group & 63];
  }
  if (std::size_t rest = size - i; rest > 0) {
    std::uint32_t group = (data[i] << 16) | (rest == 2 ? data[i + 1] << 8 : 0);
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    out += rest == 2 ? kAlphabet[(group >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint8_t v[4];
    for (int k = 0; k < 4; ++k) v[k] = kReverse[static_cast<unsigned char>(text[i + k])];
    bool last = i + 4 == text.size();
    if (v[0] >= 64 || v[1] >= 64 || v[2] == kInvalid || v[3] == kInvalid) return std::nullopt;
    // Padding: "xx==" or "xxx=", and only in the last group.
    if ((v[2] == kPad || v[3] == kPad) && (!last || v[3] != kPad)) return std::nullopt;
    std::uint32_t group = (v[0] << 18) | (v[1] << 12);
    out.push_back(static_cast<std::uint8_t>(group >> 16));
    if (v[2] == kPad) break;
    group |= v[2] << 6;
    out.push_back(static_cast<std::uint8_t>(group >> 8));
    if (v[3] == kPad) break;
    group |= v[3];
    out.push_back(static_cast<std::uint8_t>(group));
  }
  return out;
}

}  // namespace molt::internal
