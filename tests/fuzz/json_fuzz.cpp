// libFuzzer target: the control socket's request parser on any bytes. It must never crash, must
// say why it refuses, and what it accepts must survive a round trip through JsonObject.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "util/json.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace molt::internal;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  std::optional<FlatJson> object = parse_flat_json_object(text, error);
  if (!object) {
    require(!error.empty());
    return 0;
  }
  JsonObject again;
  for (const auto& [key, value] : *object) again.string(key, value);
  std::optional<FlatJson> reread = parse_flat_json_object(again.str(), error);
  require(reread && *reread == *object);
  return 0;
}
