// The operator's hold as the next master finds it: absent, whole, or rotten (which still holds).
#include "master/hold.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "temp_files.hpp"

namespace molt::internal {
namespace {

TEST(HoldTest, AbsentSavedAndCleared) {
  test::TempDir temp;
  const std::string dir = temp.path().string();
  std::string error;
  EXPECT_FALSE(load_hold(dir, error));
  EXPECT_EQ(error, "");
  EXPECT_EQ(save_hold(real_sys(), dir, {1700000000.5, "incident \"42\"\nsee the channel"}), "");
  std::optional<Hold> hold = load_hold(dir, error);
  ASSERT_TRUE(hold);
  EXPECT_EQ(error, "");
  EXPECT_DOUBLE_EQ(hold->since, 1700000000.5);
  EXPECT_EQ(hold->reason, "incident \"42\"\nsee the channel");
  EXPECT_EQ(clear_hold(real_sys(), dir), "");
  EXPECT_FALSE(load_hold(dir, error));
  EXPECT_EQ(clear_hold(real_sys(), dir), "");  // nothing to clear is no error
}

TEST(HoldTest, ARottenOrUnreadableHoldFileStillHolds) {
  test::TempDir temp;
  const std::string dir = temp.path().string();
  const std::string path = dir + "/hold";
  for (const char* text :
       {"\x01garbage", "{\"since\": 1}", "{\"since\": \"soon\", \"reason\": \"x\"}"}) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    std::string error;
    std::optional<Hold> hold = load_hold(dir, error);
    ASSERT_TRUE(hold) << text;
    EXPECT_EQ(error.rfind(path + ": not a hold record", 0), 0u) << error;
    EXPECT_EQ(hold->reason, "unreadable hold file: " + error);
  }
  std::filesystem::remove(path);
  std::filesystem::create_directory(path);  // not a file at all
  std::string error;
  std::optional<Hold> hold = load_hold(dir, error);
  ASSERT_TRUE(hold);
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
}

}  // namespace
}  // namespace molt::internal
