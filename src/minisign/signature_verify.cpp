// Checking and making minisign signatures: Ed25519 over the file (or its BLAKE2b-512 for "ED"),
// then a global signature over signature | trusted comment.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <molt/signature.hpp>

#include "minisign/base64.hpp"
#include "minisign/signature_internal.hpp"

namespace molt::sig {

using internal::base64_encode;
namespace {

// Hashes the file at `path`; false with `error` naming the cause when it cannot be read.
bool hash_file(const std::string& path, Digest& digest, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::string("cannot open the file: ") + std::strerror(errno);
    return false;
  }
  Hasher hasher;
  std::vector<char> buffer(1 << 16);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    hasher.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) {
    error = std::string("cannot read the file: ") + std::strerror(errno);
    return false;
  }
  digest = hasher.finish();
  return true;
}

// What stops a check before any Ed25519: a signature by another key, or no libcrypto.
std::string cannot_verify(const PublicKey& key, const Signature& sig) {
  if (key.key_id != sig.key_id) {
    return "key id mismatch: signature key id " + key_id_to_string(sig.key_id) +
           " but public key id " + key_id_to_string(key.key_id);
  }
  return detail::crypto_unavailable();
}

// The global signature covers signature | trusted comment, so the comment cannot be swapped.
std::string check_comment(const PublicKey& key, const Signature& sig) {
  std::string signed_text(sig.signature.begin(), sig.signature.end());
  signed_text += sig.trusted_comment;
  if (!detail::ed25519_verify(key.key, signed_text.data(), signed_text.size(),
                              sig.global_signature)) {
    return "comment signature verification failed: the trusted comment was altered";
  }
  return {};
}

constexpr const char* kFileSignatureFailed =
    "file signature verification failed: the file was altered or signed by another key";

}  // namespace

std::string verify_comment(const PublicKey& key, const Signature& sig) {
  if (auto error = cannot_verify(key, sig); !error.empty()) return error;
  return check_comment(key, sig);
}

std::string verify_digest(const PublicKey& key, const Signature& sig, const Digest& digest) {
  if (auto error = cannot_verify(key, sig); !error.empty()) return error;
  if (!sig.prehashed) {
    return "legacy \"Ed\" signature: it signs the whole file, not its digest";
  }
  if (!detail::ed25519_verify(key.key, digest.data(), digest.size(), sig.signature)) {
    return kFileSignatureFailed;
  }
  return check_comment(key, sig);
}

std::string verify_file(const PublicKey& key, const Signature& sig, const std::string& path) {
  if (auto error = cannot_verify(key, sig); !error.empty()) return error;
  std::string error;
  if (sig.prehashed) {
    Digest digest{};
    if (!hash_file(path, digest, error)) return error;
    return verify_digest(key, sig, digest);
  }
  // Legacy "Ed" signs the message itself, so the whole file is read.
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::string("cannot open the file: ") + std::strerror(errno);
  std::string message((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::string("cannot read the file: ") + std::strerror(errno);
  if (!detail::ed25519_verify(key.key, message.data(), message.size(), sig.signature)) {
    return kFileSignatureFailed;
  }
  return check_comment(key, sig);
}

std::string sign_file(const SecretKey& key, const std::string& path,
                      std::string_view trusted_comment, std::string_view untrusted_comment,
                      std::string& error) {
  if (trusted_comment.find_first_of("\r\n") != std::string_view::npos ||
      untrusted_comment.find_first_of("\r\n") != std::string_view::npos) {
    error = "a comment must be one line";
    return {};
  }
  if (!detail::is_printable(trusted_comment)) {
    error = "the trusted comment contains unprintable characters";
    return {};
  }
  // minisign refuses these lengths too, so every signature molt writes stays readable by it.
  if (trusted_comment.size() + detail::kTrustedCommentPrefix.size() + 2 >
      detail::kTrustedCommentMaxBytes) {
    error = "the trusted comment is too long";
    return {};
  }
  if (untrusted_comment.size() + detail::kCommentPrefix.size() + 2 > detail::kCommentMaxBytes) {
    error = "the untrusted comment is too long";
    return {};
  }
  if (error = detail::crypto_unavailable(); !error.empty()) return {};
  Digest digest{};
  if (!hash_file(path, digest, error)) return {};
  Signature sig;
  sig.key_id = key.key_id;
  sig.trusted_comment = trusted_comment;
  std::string signed_text;
  bool ok = detail::ed25519_sign(key.key, digest.data(), digest.size(), sig.signature);
  if (ok) {
    signed_text.assign(sig.signature.begin(), sig.signature.end());
    signed_text += trusted_comment;
    ok =
        detail::ed25519_sign(key.key, signed_text.data(), signed_text.size(), sig.global_signature);
  }
  // A damaged key would sign garbage: check with its own public half before writing anything.
  if (!ok || !verify_digest(public_key_of(key), sig, digest).empty()) {
    error = "the secret key cannot make a valid signature (damaged key?)";
    return {};
  }
  std::uint8_t sig_bytes[2 + 8 + 64] = {'E', 'D'};
  std::copy(sig.key_id.begin(), sig.key_id.end(), sig_bytes + 2);
  std::copy(sig.signature.begin(), sig.signature.end(), sig_bytes + 10);
  return std::string(detail::kCommentPrefix) + std::string(untrusted_comment) + "\n" +
         base64_encode(sig_bytes, sizeof sig_bytes) + "\n" +
         std::string(detail::kTrustedCommentPrefix) + std::string(trusted_comment) + "\n" +
         base64_encode(sig.global_signature.data(), sig.global_signature.size()) + "\n";
}

}  // namespace molt::sig
