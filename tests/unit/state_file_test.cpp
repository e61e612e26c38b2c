// What the master remembers across restarts, as it is found after a crash or rot.
#include "master/state_file.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "master/swap.hpp"
#include "temp_files.hpp"

namespace molt::internal {
namespace {

namespace fs = std::filesystem;

class StateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bin_ = (dir_ / "app").string();
    write(bin_, "the build at <bin>");
    pair_ = sig::generate_key_pair();
  }

  static void write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }
  // A signature of the file at `path`, signed at `timestamp`.
  std::string signature_of(const std::string& path, int timestamp) {
    std::string error;
    std::string text =
        sig::sign_file(pair_.secret_key, path,
                       "timestamp:" + std::to_string(timestamp) + "\tfile:app", "test", error);
    EXPECT_EQ(error, "");
    return text;
  }
  std::vector<sig::PublicKey> keys() const { return {pair_.public_key}; }

  test::TempDir temp_;
  const fs::path& dir_ = temp_.path();
  std::string bin_;
  sig::KeyPair pair_;
};

TEST_F(StateFileTest, HighWaterAbsentRottenAndWhole) {
  std::string error;
  EXPECT_FALSE(load_high_water(dir_.string(), error));
  EXPECT_EQ(error, "");  // absent: a first start
  write((dir_ / "high-water").string(), "\x01garbage");
  EXPECT_FALSE(load_high_water(dir_.string(), error));
  EXPECT_EQ(error, (dir_ / "high-water").string() + ": not a signing time (damaged?)");
  error.clear();
  EXPECT_EQ(save_high_water(real_sys(), dir_.string(), 1700000000), "");
  EXPECT_EQ(load_high_water(dir_.string(), error), 1700000000);
  EXPECT_EQ(error, "");
}

TEST_F(StateFileTest, InstalledSignatureCountsOnlyWhenItsCommentVerifies) {
  std::string error;
  write(signature_path(bin_), signature_of(bin_, 1234));
  EXPECT_EQ(installed_signature_time(bin_, keys(), error), 1234);
  sig::KeyPair other = sig::generate_key_pair();
  EXPECT_FALSE(installed_signature_time(bin_, {other.public_key}, error));
  EXPECT_NE(error.find(signature_path(bin_)), std::string::npos) << error;
}

TEST_F(StateFileTest, AnInterruptedInstallIsCompletedWhenItsSignatureSignsTheBinary) {
  write(pending_signature_path(bin_), signature_of(bin_, 2000));
  std::string said = finish_interrupted_install(bin_, keys());
  EXPECT_NE(said.find("is complete"), std::string::npos) << said;
  EXPECT_FALSE(fs::exists(pending_signature_path(bin_)));
  std::string error;
  EXPECT_EQ(installed_signature_time(bin_, keys(), error), 2000);
}

TEST_F(StateFileTest, AnInterruptedInstallThatDidNotReachTheBinaryIsDropped) {
  // Killed before the binary's rename: the pending signature is the next build's.
  std::string next = (dir_ / "next").string();
  write(next, "the next build");
  write(pending_signature_path(bin_), signature_of(next, 3000));
  std::string said = finish_interrupted_install(bin_, keys());
  EXPECT_NE(said.find("removed"), std::string::npos) << said;
  EXPECT_FALSE(fs::exists(pending_signature_path(bin_)));
  EXPECT_FALSE(fs::exists(signature_path(bin_)));
  EXPECT_EQ(finish_interrupted_install(bin_, keys()), "");  // nothing left to do
}

}  // namespace
}  // namespace molt::internal
