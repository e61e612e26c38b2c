// minisign public keys, signatures and trusted comments: reading and writing their text.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <molt/signature.hpp>

#include "minisign/base64.hpp"
#include "minisign/signature_internal.hpp"

namespace molt::sig {

using internal::base64_decode;
using internal::base64_encode;
namespace {

using detail::Line;
using detail::LineReader;

constexpr std::size_t kPublicKeyBytes = 2 + 8 + 32;
constexpr std::size_t kSignatureBytes = 2 + 8 + 64;

// Checks one line as minisign's fgets + trim would accept it; `what` names it in the error.
bool check_line(const std::optional<Line>& line, std::string_view what, std::size_t max_bytes,
                bool needs_newline, std::string& error) {
  if (!line) {
    error = "truncated: no " + std::string(what) + " line";
    return false;
  }
  if (line->raw_size >= max_bytes) {
    error = std::string(what) + " line is longer than " + std::to_string(max_bytes - 2) + " bytes";
    return false;
  }
  if (line->text.find('\r') != std::string_view::npos) {
    error = std::string(what) + " line contains a stray carriage return";
    return false;
  }
  if (needs_newline && !line->terminated) {
    error = "truncated: " + std::string(what) + " line has no end of line";
    return false;
  }
  return true;
}

// Decodes a base64 line that must hold exactly `size` bytes.
std::optional<std::vector<std::uint8_t>> decode_line(const std::optional<Line>& line,
                                                     std::string_view what, std::size_t size,
                                                     std::string& error) {
  if (!line || line->text.empty()) {
    error = "truncated: no " + std::string(what) + " line";
    return std::nullopt;
  }
  auto bytes = base64_decode(line->text);
  if (!bytes) {
    error = std::string(what) + " line is not valid base64";
    return std::nullopt;
  }
  if (bytes->size() != size) {
    error = std::string(what) + " line holds " + std::to_string(bytes->size()) +
            " bytes instead of " + std::to_string(size) + " (truncated or not a minisign file?)";
    return std::nullopt;
  }
  return bytes;
}

// The two algorithm bytes, printable even when they are garbage.
std::string algorithm_name(const std::uint8_t* bytes) {
  std::string name;
  for (int i = 0; i < 2; ++i) {
    if (bytes[i] >= 0x21 && bytes[i] <= 0x7e && bytes[i] != '"' && bytes[i] != '\\') {
      name += static_cast<char>(bytes[i]);
      continue;
    }
    char escaped[5];
    std::snprintf(escaped, sizeof escaped, "\\x%02x", bytes[i]);
    name += escaped;
  }
  return name;
}

}  // namespace

std::string key_id_to_string(const KeyId& key_id) {
  char text[17];
  for (int i = 0; i < 8; ++i) std::snprintf(text + 2 * i, 3, "%02X", key_id[7 - i]);
  return std::string(text, 16);
}

std::optional<PublicKey> parse_public_key(std::string_view file_text, std::string& error) {
  LineReader lines(file_text);
  auto first = lines.next();
  auto second = lines.next();
  // A bare key line, as minisign -P takes it; otherwise a comment line then the key line.
  bool bare = first && !first->text.starts_with(detail::kCommentPrefix) &&
              (!second || second->text.empty());
  if (!bare && !check_line(first, "public key comment", detail::kCommentMaxBytes, true, error)) {
    return std::nullopt;
  }
  const auto& key_line = bare ? first : second;
  auto bytes = decode_line(key_line, "public key", kPublicKeyBytes, error);
  if (!bytes) return std::nullopt;
  if (std::memcmp(bytes->data(), "Ed", 2) != 0) {
    error = "unsupported public key algorithm \"" + algorithm_name(bytes->data()) + "\"";
    return std::nullopt;
  }
  PublicKey key;
  std::copy_n(bytes->begin() + 2, 8, key.key_id.begin());
  std::copy_n(bytes->begin() + 10, 32, key.key.begin());
  return key;
}

std::optional<Signature> parse_signature(std::string_view file_text, std::string& error) {
  LineReader lines(file_text);
  auto comment = lines.next();
  if (!check_line(comment, "untrusted comment", detail::kCommentMaxBytes, true, error)) {
    return std::nullopt;
  }
  if (!comment->text.starts_with(detail::kCommentPrefix)) {
    error = "first line does not start with \"untrusted comment: \" (not a minisign signature?)";
    return std::nullopt;
  }
  auto sig_bytes = decode_line(lines.next(), "signature", kSignatureBytes, error);
  if (!sig_bytes) return std::nullopt;
  Signature sig;
  if (std::memcmp(sig_bytes->data(), "ED", 2) == 0) {
    sig.prehashed = true;
  } else if (std::memcmp(sig_bytes->data(), "Ed", 2) == 0) {
    sig.prehashed = false;
  } else {
    error = "unsupported signature algorithm \"" + algorithm_name(sig_bytes->data()) + "\"";
    return std::nullopt;
  }
  std::copy_n(sig_bytes->begin() + 2, 8, sig.key_id.begin());
  std::copy_n(sig_bytes->begin() + 10, 64, sig.signature.begin());

  auto trusted = lines.next();
  if (!check_line(trusted, "trusted comment", detail::kTrustedCommentMaxBytes, true, error)) {
    return std::nullopt;
  }
  if (!trusted->text.starts_with(detail::kTrustedCommentPrefix)) {
    error = "third line does not start with \"trusted comment: \"";
    return std::nullopt;
  }
  sig.trusted_comment = trusted->text.substr(detail::kTrustedCommentPrefix.size());
  if (!detail::is_printable(sig.trusted_comment)) {
    error = "trusted comment contains unprintable characters";
    return std::nullopt;
  }
  auto global = decode_line(lines.next(), "comment signature", 64, error);
  if (!global) return std::nullopt;
  std::copy(global->begin(), global->end(), sig.global_signature.begin());
  return sig;
}

TrustedComment parse_trusted_comment(std::string_view comment) {
  TrustedComment out;
  while (!comment.empty()) {
    std::size_t tab = comment.find('\t');
    std::string_view field = comment.substr(0, tab);
    comment.remove_prefix(tab == std::string_view::npos ? comment.size() : tab + 1);
    if (field == "hashed") {
      out.hashed = true;
    } else if (field.starts_with("timestamp:")) {
      field.remove_prefix(10);
      std::int64_t value = 0;
      auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
      if (ec == std::errc() && end == field.data() + field.size() && !field.empty()) {
        out.timestamp = value;
      }
    } else if (field.starts_with("file:")) {
      out.file = field.substr(5);
    } else if (field.starts_with("build_id:")) {
      out.build_id = field.substr(9);
    }
  }
  return out;
}

PublicKey public_key_of(const SecretKey& key) {
  PublicKey out;
  out.key_id = key.key_id;
  std::copy_n(key.key.begin() + 32, 32, out.key.begin());
  return out;
}

std::string format_public_key(const PublicKey& key) {
  std::uint8_t bytes[kPublicKeyBytes] = {'E', 'd'};
  std::copy(key.key_id.begin(), key.key_id.end(), bytes + 2);
  std::copy(key.key.begin(), key.key.end(), bytes + 10);
  return std::string(detail::kCommentPrefix) + "minisign public key " +
         key_id_to_string(key.key_id) + "\n" + base64_encode(bytes, sizeof bytes) + "\n";
}

const PublicKey* find_key(const std::vector<PublicKey>& keys, const Signature& sig,
                          std::string& error) {
  for (const auto& key : keys) {
    if (key.key_id == sig.key_id) return &key;
  }
  error = "signature key id " + key_id_to_string(sig.key_id) + " matches none of the " +
          std::to_string(keys.size()) + " trusted public key(s)";
  return nullptr;
}

}  // namespace molt::sig
