// minisign-compatible keys and signatures: formats, round trips, and each refusal's message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <molt/signature.hpp>
#include <string>

#include "minisign/base64.hpp"
#include "minisign/blake2b.hpp"

namespace molt::sig {
namespace {

using internal::base64_decode;
using internal::base64_encode;
using internal::blake2b;

using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Made by `minisign -G -W` (a throwaway test key) and `minisign -S [-l]` over "hello\n".
constexpr std::string_view kMinisignPublicKey =
    "untrusted comment: minisign public key 9F9B6B0B42478534\n"
    "RWQ0hUdCC2ubn5Qil7EBl9ZwzwIMfkWW53Q9Lbq6/SPumtf844oO+dIb\n";
constexpr std::string_view kMinisignSecretKey =
    "untrusted comment: minisign encrypted secret key\n"
    "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAANIVHQgtr"
    "m58VvIi6wAmqVM0Zyy/YCroYn2XFBdmipB9iz8Y+YE/A2pQil7EBl9ZwzwIMfkWW53Q9Lbq6/SPumtf8"
    "44oO+dIbAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
constexpr std::string_view kMinisignSignature =
    "untrusted comment: signature from minisign secret key\n"
    "RUQ0hUdCC2ubn1VFpW/UyBn6IULLlHvp5F5nKYxotabw7lpJJH43U/QxeOEA9ihPJDuO3xxXtOt3+S8XeB6JLAoEp8X/"
    "A3sk2w8=\n"
    "trusted comment: timestamp:1795712741\tfile:m\thashed\n"
    "B19ZzHND2FhRp1MDxq2FiDcNuUW5zPgIfQ/6LmVdyYcFii3TQekwRUE6p6tda3ZQUl3EDvUrRn93c3dl0oKyBQ==\n";
constexpr std::string_view kMinisignLegacySignature =
    "untrusted comment: signature from minisign secret key\n"
    "RWQ0hUdCC2ubn/OIGunkm0p3BudzNAutpqVySkrwzBCkTlrE2F/0qr81lNWmrNuJtDk9OZwIZdRo+n3UGn9Vl67mxYZ/"
    "acl6hwk=\n"
    "trusted comment: timestamp:1795712741\tfile:m\n"
    "T0kdqp85VeMvVVLZ1Oi/w3MuMfyhPmYW55OjhdD4Up5Aw4cltJ8+2f+McFXWbuSluBkagzs5c4brvJaAAgXpBQ==\n";
constexpr std::string_view kMessage = "hello\n";

// Cheap scrypt settings (N=2^10) so the encrypted-key tests run in milliseconds.
constexpr ScryptLimits kFastScrypt{32768, 16777216 / 16};

std::string hex(const std::vector<std::uint8_t>& bytes) {
  std::string out;
  char two[3];
  for (auto b : bytes) {
    std::snprintf(two, sizeof two, "%02x", b);
    out += two;
  }
  return out;
}

// Replaces line `index` (0-based) of a file's text.
std::string with_line(std::string_view text, int index, std::string_view line) {
  std::string out;
  int i = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    std::string_view current = text.substr(start, end - start);
    out += i++ == index ? line : current;
    out += '\n';
    start = end + 1;
  }
  return out;
}

class SignatureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "molt-sig-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    message_path_ = write("m", kMessage);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, std::string_view text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  PublicKey minisign_key() {
    std::string error;
    auto key = parse_public_key(kMinisignPublicKey, error);
    EXPECT_TRUE(key) << error;
    return key.value_or(PublicKey{});
  }

  // Signs the message with a fresh key; returns the signature text.
  std::string sign_message(const KeyPair& pair, std::string_view comment = "timestamp:1\thashed") {
    std::string error;
    std::string text = sign_file(pair.secret_key, message_path_, comment, "test", error);
    EXPECT_THAT(error, IsEmpty());
    return text;
  }

  // Parses `text` as a signature and checks it against the message with `key`.
  std::string check(const PublicKey& key, std::string_view text) {
    std::string error;
    auto sig = parse_signature(text, error);
    if (!sig) return "parse: " + error;
    return verify_file(key, *sig, message_path_);
  }

  std::filesystem::path dir_;
  std::string message_path_;
};

TEST(Base64Test, RoundTripsEveryLength) {
  std::vector<std::uint8_t> bytes;
  for (int size = 0; size < 12; ++size) {
    std::string text = base64_encode(bytes.data(), bytes.size());
    if (size > 0) {
      auto back = base64_decode(text);
      ASSERT_TRUE(back) << text;
      EXPECT_EQ(*back, bytes);
    }
    bytes.push_back(static_cast<std::uint8_t>(size * 37 + 200));
  }
  EXPECT_EQ(base64_encode(reinterpret_cast<const std::uint8_t*>("foob"), 4), "Zm9vYg==");
}

TEST(Base64Test, RefusesWhatMinisignRefuses) {
  for (std::string_view bad : {"", "Zm9", "Zm9vY", "Zm9v Yg==", "Zm9vYg=", "Zm=v",
                               "Z===", "Zg==Zm9v", "Zm9vYg==\n", "Zm9-", "Zm9_"}) {
    EXPECT_FALSE(base64_decode(bad)) << bad;
  }
  EXPECT_TRUE(base64_decode("Zm8="));
}

TEST(Blake2bTest, MatchesRfc7693AndLibsodiumLengths) {
  EXPECT_EQ(hex(blake2b(64, "abc", 3)),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
            "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
  EXPECT_EQ(hex(blake2b(32, "", 0)),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  std::string long_input(300, 'x');  // more than two 128-byte blocks
  Hasher hasher;
  hasher.update(long_input.data(), long_input.size());
  Digest digest = hasher.finish();
  EXPECT_EQ(hex({digest.begin(), digest.end()}), hex(blake2b(64, long_input.data(), 300)));
}

TEST(HasherTest, StreamsAndStartsOverAfterFinish) {
  Hasher hasher;
  hasher.update("a", 1);
  hasher.update("bc", 2);
  Digest first = hasher.finish();
  hasher.update("abc", 3);
  EXPECT_EQ(first, hasher.finish());
  EXPECT_EQ(hex({first.begin(), first.end()}), hex(blake2b(64, "abc", 3)));
}

TEST_F(SignatureTest, VerifiesMinisignPrehashedSignature) {
  PublicKey key = minisign_key();
  EXPECT_EQ(key_id_to_string(key.key_id), "9F9B6B0B42478534");  // as minisign printed it
  EXPECT_THAT(check(key, kMinisignSignature), IsEmpty());

  std::string error;
  auto sig = parse_signature(kMinisignSignature, error);
  ASSERT_TRUE(sig) << error;
  EXPECT_TRUE(sig->prehashed);
  EXPECT_EQ(sig->trusted_comment, "timestamp:1795712741\tfile:m\thashed");
  Hasher hasher;
  hasher.update(kMessage.data(), kMessage.size());
  EXPECT_THAT(verify_digest(key, *sig, hasher.finish()), IsEmpty());
}

TEST_F(SignatureTest, VerifiesMinisignLegacySignatureOnlyFromTheFile) {
  PublicKey key = minisign_key();
  EXPECT_THAT(check(key, kMinisignLegacySignature), IsEmpty());
  std::string error;
  auto sig = parse_signature(kMinisignLegacySignature, error);
  ASSERT_TRUE(sig) << error;
  EXPECT_FALSE(sig->prehashed);
  Hasher hasher;
  hasher.update(kMessage.data(), kMessage.size());
  EXPECT_THAT(verify_digest(key, *sig, hasher.finish()), HasSubstr("legacy"));
  write("m", "hello!\n");
  EXPECT_THAT(check(key, kMinisignLegacySignature), HasSubstr("file signature"));
}

TEST_F(SignatureTest, ReadsMinisignUnencryptedSecretKeyWithItsZeroChecksum) {
  std::string error;
  EXPECT_FALSE(is_encrypted_secret_key(kMinisignSecretKey));
  auto secret = parse_secret_key(kMinisignSecretKey, "", error);
  ASSERT_TRUE(secret) << error;
  PublicKey key = minisign_key();
  EXPECT_EQ(public_key_of(*secret).key, key.key);
  EXPECT_EQ(secret->key_id, key.key_id);
}

TEST_F(SignatureTest, RoundTripsKeysAndSignatures) {
  KeyPair pair = generate_key_pair();
  std::string error;
  auto key = parse_public_key(format_public_key(pair.public_key), error);
  ASSERT_TRUE(key) << error;
  EXPECT_EQ(key->key, pair.public_key.key);
  EXPECT_EQ(key->key_id, pair.public_key.key_id);

  std::string text = sign_message(pair, "timestamp:42\tfile:m\thashed\tbuild_id:v2");
  EXPECT_TRUE(text.starts_with("untrusted comment: test\n"));
  EXPECT_THAT(check(*key, text), IsEmpty());
  auto sig = parse_signature(text, error);
  ASSERT_TRUE(sig);
  EXPECT_TRUE(sig->prehashed);
  EXPECT_EQ(sig->trusted_comment, "timestamp:42\tfile:m\thashed\tbuild_id:v2");
}

TEST_F(SignatureTest, AcceptsABarePublicKeyLine) {
  std::string error;
  auto key = parse_public_key("RWQ0hUdCC2ubn5Qil7EBl9ZwzwIMfkWW53Q9Lbq6/SPumtf844oO+dIb\n", error);
  ASSERT_TRUE(key) << error;
  EXPECT_EQ(key->key, minisign_key().key);
}

TEST_F(SignatureTest, RefusesATamperedFile) {
  KeyPair pair = generate_key_pair();
  std::string text = sign_message(pair);
  write("m", "hello, world\n");
  EXPECT_THAT(check(pair.public_key, text), HasSubstr("file signature verification failed"));
}

TEST_F(SignatureTest, RefusesATamperedTrustedComment) {
  KeyPair pair = generate_key_pair();
  std::string text = with_line(sign_message(pair), 2, "trusted comment: timestamp:2\thashed");
  EXPECT_THAT(check(pair.public_key, text), HasSubstr("comment signature verification failed"));
}

TEST_F(SignatureTest, RefusesAnotherKey) {
  KeyPair signer = generate_key_pair();
  KeyPair other = generate_key_pair();
  std::string text = sign_message(signer);
  EXPECT_THAT(check(other.public_key, text), HasSubstr("key id mismatch"));
  // Another key that claims the signer's id still fails on the signature itself.
  other.public_key.key_id = signer.public_key.key_id;
  EXPECT_THAT(check(other.public_key, text), HasSubstr("file signature verification failed"));

  std::string error;
  auto sig = parse_signature(text, error);
  ASSERT_TRUE(sig);
  std::vector<PublicKey> keys = {generate_key_pair().public_key, signer.public_key};
  EXPECT_EQ(find_key(keys, *sig, error), &keys[1]);
  keys.pop_back();
  EXPECT_EQ(find_key(keys, *sig, error), nullptr);
  EXPECT_THAT(error, HasSubstr("matches none of the 1 trusted public key"));
}

TEST_F(SignatureTest, RefusesTruncatedSignatureFiles) {
  std::string text(kMinisignSignature);
  std::string error;
  // Every cut short of the last line's own "\n" (which minisign does not need) is refused.
  for (std::size_t size = 0; size + 1 < text.size(); ++size) {
    EXPECT_FALSE(parse_signature(text.substr(0, size), error)) << size;
    EXPECT_THAT(error, ::testing::AnyOf(HasSubstr("truncated"), HasSubstr("not valid base64"),
                                        HasSubstr("bytes instead of")))
        << size;
  }
  EXPECT_FALSE(parse_signature(text.substr(0, text.find("\ntrusted comment:") + 1), error));
  EXPECT_THAT(error, HasSubstr("truncated: no trusted comment line"));
}

TEST_F(SignatureTest, RefusesGarbledSignatureFiles) {
  std::string error;
  std::string text(kMinisignSignature);
  EXPECT_FALSE(parse_signature(with_line(text, 1, "RUQ0hUdCC2ubn1VFpW/UyBn6IULLlHvp5F5n!"), error));
  EXPECT_THAT(error, HasSubstr("signature line is not valid base64"));
  EXPECT_FALSE(parse_signature(with_line(text, 1, "RUQ0hUdCC2ubn1VF"), error));
  EXPECT_THAT(error, HasSubstr("signature line holds 12 bytes instead of 74"));
  EXPECT_FALSE(parse_signature(with_line(text, 3, "B19ZzHND2FhRp1MDxq2F*"), error));
  EXPECT_THAT(error, HasSubstr("comment signature line is not valid base64"));
  EXPECT_FALSE(parse_signature(with_line(text, 0, "a signature"), error));
  EXPECT_THAT(error, HasSubstr("does not start with \"untrusted comment: \""));
  EXPECT_FALSE(parse_signature(with_line(text, 2, "comment: x"), error));
  EXPECT_THAT(error, HasSubstr("does not start with \"trusted comment: \""));
  // "XX" where "ED" was: base64 of 'X','X' then the same bytes.
  auto bytes = base64_decode(
      "RUQ0hUdCC2ubn1VFpW/UyBn6IULLlHvp5F5nKYxotabw7lpJJH43U/QxeOEA9ihPJDuO3xxXtOt3+"
      "S8XeB6JLAoEp8X/A3sk2w8=");
  ASSERT_TRUE(bytes);
  (*bytes)[0] = 'X';
  (*bytes)[1] = 0x01;
  EXPECT_FALSE(
      parse_signature(with_line(text, 1, base64_encode(bytes->data(), bytes->size())), error));
  EXPECT_EQ(error, "unsupported signature algorithm \"X\\x01\"");
}

TEST_F(SignatureTest, RefusesGarbledPublicKeys) {
  std::string error;
  EXPECT_FALSE(parse_public_key("", error));
  EXPECT_THAT(error, HasSubstr("truncated"));
  EXPECT_FALSE(parse_public_key(with_line(kMinisignPublicKey, 1, "RWQ0hUdCC2ubn5Qil7EB%"), error));
  EXPECT_THAT(error, HasSubstr("public key line is not valid base64"));
  EXPECT_FALSE(parse_public_key(with_line(kMinisignPublicKey, 1, "RWQ0hUdC"), error));
  EXPECT_THAT(error, HasSubstr("public key line holds 6 bytes instead of 42"));
  // minisign's public keys are always "Ed", even for "ED" signatures.
  EXPECT_FALSE(parse_public_key(
      with_line(kMinisignPublicKey, 1, "RUQ0hUdCC2ubn5Qil7EBl9ZwzwIMfkWW53Q9Lbq6/SPumtf844oO+dIb"),
      error));
  EXPECT_EQ(error, "unsupported public key algorithm \"ED\"");
}

TEST_F(SignatureTest, ReadsCrlfFilesAsMinisignDoes) {
  auto crlf = [](std::string_view text) {
    std::string out;
    for (char c : text) out += c == '\n' ? std::string("\r\n") : std::string(1, c);
    return out;
  };
  EXPECT_THAT(check(minisign_key(), crlf(kMinisignSignature)), IsEmpty());
  std::string error;
  EXPECT_TRUE(parse_public_key(crlf(kMinisignPublicKey), error)) << error;
  EXPECT_TRUE(parse_secret_key(crlf(kMinisignSecretKey), "", error)) << error;
  // Only a final "\r" is an end of line; another one inside a line is refused.
  std::string stray = with_line(kMinisignSignature, 2, "trusted comment: a\rb");
  EXPECT_FALSE(parse_signature(stray, error));
  EXPECT_THAT(error, HasSubstr("trusted comment line contains a stray carriage return"));
}

TEST_F(SignatureTest, RefusesOversizedCommentLines) {
  std::string error;
  std::string text(kMinisignSignature);
  // minisign reads lines with fgets into 1024- and 8192-byte buffers.
  std::string longest_untrusted = "untrusted comment: " + std::string(1022 - 19, 'u');
  EXPECT_TRUE(parse_signature(with_line(text, 0, longest_untrusted), error)) << error;
  EXPECT_FALSE(parse_signature(with_line(text, 0, longest_untrusted + "u"), error));
  EXPECT_EQ(error, "untrusted comment line is longer than 1022 bytes");

  KeyPair pair = generate_key_pair();
  std::string longest_trusted(8190 - 17, 't');
  EXPECT_THAT(check(pair.public_key, sign_message(pair, longest_trusted)), IsEmpty());
  EXPECT_EQ(sign_file(pair.secret_key, message_path_, longest_trusted + "t", "", error), "");
  EXPECT_EQ(error, "the trusted comment is too long");
  std::string oversized = with_line(text, 2, "trusted comment: " + longest_trusted + "t");
  EXPECT_FALSE(parse_signature(oversized, error));
  EXPECT_EQ(error, "trusted comment line is longer than 8190 bytes");
}

TEST_F(SignatureTest, RefusesUnprintableAndMultiLineComments) {
  std::string error;
  EXPECT_FALSE(parse_signature(with_line(kMinisignSignature, 2, "trusted comment: a\x01"), error));
  EXPECT_EQ(error, "trusted comment contains unprintable characters");
  EXPECT_FALSE(parse_signature(with_line(kMinisignSignature, 2, "trusted comment: \xc3"), error));
  EXPECT_EQ(error, "trusted comment contains unprintable characters");
  std::string utf8 = with_line(kMinisignSignature, 2, "trusted comment: caf\xc3\xa9\tok");
  EXPECT_TRUE(parse_signature(utf8, error)) << error;

  KeyPair pair = generate_key_pair();
  EXPECT_EQ(sign_file(pair.secret_key, message_path_, "a\nb", "", error), "");
  EXPECT_EQ(error, "a comment must be one line");
  EXPECT_EQ(sign_file(pair.secret_key, (dir_ / "missing").string(), "c", "", error), "");
  EXPECT_THAT(error, HasSubstr("cannot open the file"));
}

TEST_F(SignatureTest, RoundTripsEncryptedSecretKeys) {
  KeyPair pair = generate_key_pair();
  std::string text = format_secret_key(pair.secret_key, "correct horse", kFastScrypt);
  EXPECT_TRUE(is_encrypted_secret_key(text));
  std::string error;
  auto secret = parse_secret_key(text, "correct horse", error);
  ASSERT_TRUE(secret) << error;
  EXPECT_EQ(secret->key, pair.secret_key.key);
  EXPECT_EQ(secret->key_id, pair.secret_key.key_id);

  EXPECT_FALSE(parse_secret_key(text, "wrong horse", error));
  EXPECT_EQ(error, "wrong password for this secret key");
  EXPECT_FALSE(parse_secret_key(text, "", error));
  EXPECT_EQ(error, "the secret key is encrypted and no password was given");
}

TEST_F(SignatureTest, RoundTripsUnencryptedSecretKeysAndRefusesDamagedOnes) {
  KeyPair pair = generate_key_pair();
  std::string text = format_secret_key(pair.secret_key, "");
  EXPECT_FALSE(is_encrypted_secret_key(text));
  std::string error;
  auto secret = parse_secret_key(text, "ignored", error);
  ASSERT_TRUE(secret) << error;
  EXPECT_EQ(secret->key, pair.secret_key.key);

  std::string line = text.substr(text.find('\n') + 1);
  line.pop_back();
  auto bytes = base64_decode(line);
  ASSERT_TRUE(bytes);
  auto damaged = [&](std::size_t at) {
    auto copy = *bytes;
    copy[at] ^= 1;
    return with_line(text, 1, base64_encode(copy.data(), copy.size()));
  };
  EXPECT_FALSE(parse_secret_key(damaged(70), "", error));  // inside the secret key
  EXPECT_EQ(error, "secret key checksum does not match (damaged file)");
  EXPECT_FALSE(parse_secret_key(damaged(2), "", error));  // the kdf algorithm
  EXPECT_THAT(error, HasSubstr("unsupported secret key derivation"));
  EXPECT_FALSE(parse_secret_key(damaged(0), "", error));  // the signature algorithm
  EXPECT_THAT(error, HasSubstr("unsupported secret key algorithm"));
  EXPECT_FALSE(parse_secret_key(with_line(text, 1, line.substr(0, 100)), "", error));
  EXPECT_THAT(error, HasSubstr("wrong number of bytes"));
}

TEST(TrustedCommentTest, ReadsMoltFields) {
  TrustedComment c =
      parse_trusted_comment("timestamp:1700000000\tfile:app\thashed\tbuild_id:v2\tother:x");
  EXPECT_EQ(c.timestamp, 1700000000);
  EXPECT_EQ(c.file, "app");
  EXPECT_EQ(c.build_id, "v2");
  EXPECT_TRUE(c.hashed);

  TrustedComment plain = parse_trusted_comment("timestamp:12x\tfile:a b");
  EXPECT_FALSE(plain.timestamp);
  EXPECT_EQ(plain.file, "a b");
  EXPECT_FALSE(plain.hashed);
  EXPECT_TRUE(parse_trusted_comment("").build_id.empty());
  EXPECT_FALSE(parse_trusted_comment("timestamp:").timestamp);
  EXPECT_FALSE(parse_trusted_comment("timestamp:99999999999999999999").timestamp);
}

}  // namespace
}  // namespace molt::sig
