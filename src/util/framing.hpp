// The one framing of the check helper's pipe: length-prefixed fields, "<size>:<bytes>". A message
// on the pipe is one field; its bytes are themselves a sequence of fields (check.hpp's encoders).
#pragma once

#include <string>
#include <string_view>

namespace molt::internal {

void put_field(std::string& out, std::string_view field);
// Takes the field at the front of `in` into `field`. False when `in` does not start with a whole
// field (incomplete or malformed); `in` is then unchanged.
bool take_field(std::string_view& in, std::string& field);

}  // namespace molt::internal
