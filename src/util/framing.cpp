#include "util/framing.hpp"

#include <charconv>

namespace molt::internal {

void put_field(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

bool take_field(std::string_view& in, std::string& field) {
  std::size_t colon = in.find(':');
  std::size_t size = 0;
  if (colon == std::string_view::npos ||
      std::from_chars(in.data(), in.data() + colon, size).ec != std::errc() ||
      in.size() - colon - 1 < size) {
    return false;
  }
  field = in.substr(colon + 1, size);
  in.remove_prefix(colon + 1 + size);
  return true;
}

}  // namespace molt::internal
