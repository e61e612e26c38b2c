// libFuzzer target: every minisign parser on the same bytes, which must never crash, and must
// set an error whenever it refuses.
#include <cstdint>
#include <cstdlib>
#include <molt/signature.hpp>
#include <string>
#include <string_view>

#include "minisign/base64.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;

  if (auto sig = molt::sig::parse_signature(text, error)) {
    molt::sig::parse_trusted_comment(sig->trusted_comment);
    require(sig->trusted_comment.find_first_of("\r\n") == std::string::npos);
  } else {
    require(!error.empty());
  }
  error.clear();
  require(molt::sig::parse_public_key(text, error) || !error.empty());
  error.clear();
  // An empty password never starts scrypt, so encrypted keys cost nothing here.
  require(molt::sig::parse_secret_key(text, "", error) || !error.empty());
  molt::sig::is_encrypted_secret_key(text);
  molt::sig::parse_trusted_comment(text);

  if (auto bytes = molt::internal::base64_decode(text)) {
    auto again =
        molt::internal::base64_decode(molt::internal::base64_encode(bytes->data(), bytes->size()));
    require(again && *again == *bytes);
  }
  return 0;
}
