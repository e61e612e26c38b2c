// util/sha256 against FIPS 180-4's and RFC 4231's examples, and util/in_child.
#include "util/sha256.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <string>

#include "util/in_child.hpp"

namespace molt::internal {
namespace {

std::string hex(const Sha256::Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : digest) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

TEST(Sha256Test, FipsExamples) {
  EXPECT_EQ(hex(Sha256::of("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(Sha256::of("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(Sha256::of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex(Sha256::of(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, StreamsInAnyChunksAndStartsOverAfterFinish) {
  std::string message;
  for (int i = 0; i < 1000; ++i) message += static_cast<char>(i * 7 + 3);
  const std::string whole = hex(Sha256::of(message));
  Sha256 hash;
  for (std::size_t chunk : {1, 3, 55, 56, 63, 64, 65, 127, 200}) {
    for (std::size_t at = 0; at < message.size(); at += chunk) {
      hash.update(message.data() + at, std::min(chunk, message.size() - at));
    }
    EXPECT_EQ(hex(hash.finish()), whole) << "chunks of " << chunk;
  }
}

TEST(Sha256Test, HmacRfc4231Examples) {
  EXPECT_EQ(hex(hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // A key longer than the block is hashed first.
  EXPECT_EQ(hex(hmac_sha256(std::string(131, '\xaa'),
                            "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(InChildTest, ReturnsWhatTheChildComputed) {
  const pid_t parent = ::getpid();
  std::string error;
  std::optional<std::string> answer =
      run_in_child([&] { return ::getpid() == parent ? "parent" : "child"; }, error);
  ASSERT_TRUE(answer) << error;
  EXPECT_EQ(*answer, "child");
  // More than a pipe holds: the parent reads while the child writes.
  answer = run_in_child([] { return std::string(1 << 20, 'x'); }, error);
  ASSERT_TRUE(answer) << error;
  EXPECT_EQ(answer->size(), 1u << 20);
}

TEST(InChildTest, AChildThatDiesIsAnError) {
  std::string error;
  EXPECT_FALSE(run_in_child(
      [] {
        ::kill(::getpid(), SIGKILL);
        return std::string("never");
      },
      error));
  EXPECT_EQ(error, "the child forked to compute was killed by SIGKILL");
}

}  // namespace
}  // namespace molt::internal
