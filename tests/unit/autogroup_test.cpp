// /proc/<pid>/autogroup as the kernel writes it: a session's autogroup and its nice value, or
// nothing at all for init's session, whose processes are in no autogroup (as a CI runner's or a
// container's commands may be). A session started from there gets a new autogroup at 0.
#include <gtest/gtest.h>
#include <unistd.h>

#include <optional>

#include "util/priority.hpp"

namespace molt::internal {
namespace {

TEST(Autogroup, NiceOfTheSessionsAutogroup) {
  EXPECT_EQ(parse_autogroup_nice("/autogroup-123 nice 0\n"), 0);
  EXPECT_EQ(parse_autogroup_nice("/autogroup-7 nice -5\n"), -5);
  EXPECT_EQ(parse_autogroup_nice("/autogroup-7 nice 19"), 19);
}

TEST(Autogroup, InitsSessionHasNoneAndCountsAsANewOne) { EXPECT_EQ(parse_autogroup_nice(""), 0); }

TEST(Autogroup, GarbledTextSaysNothing) {
  EXPECT_EQ(parse_autogroup_nice("/autogroup-7 nice \n"), std::nullopt);
  EXPECT_EQ(parse_autogroup_nice("/autogroup-7 nice 20\n"), std::nullopt);
  EXPECT_EQ(parse_autogroup_nice("/autogroup-7 nice -21\n"), std::nullopt);
  EXPECT_EQ(parse_autogroup_nice("/autogroup-7 nice 3x\n"), std::nullopt);
  EXPECT_EQ(parse_autogroup_nice("/autogroup-7\n"), std::nullopt);
}

TEST(Autogroup, MovesAsFarAsTheThreadsWithinTheKernelsRange) {
  EXPECT_EQ(autogroup_nice_moved(0, 0, -10), -10);
  EXPECT_EQ(autogroup_nice_moved(3, -10, 0), 13);
  EXPECT_EQ(autogroup_nice_moved(-15, 0, -10), -20);
  EXPECT_EQ(autogroup_nice_moved(15, 0, 10), 19);
}

TEST(Autogroup, OwnIsReadWhereTheKernelHasThem) {
  if (::access("/proc/self/autogroup", R_OK) != 0) GTEST_SKIP() << "no autogroups here";
  std::optional<int> own = own_autogroup_nice();
  ASSERT_TRUE(own.has_value());
  EXPECT_GE(*own, -20);
  EXPECT_LE(*own, 19);
}

}  // namespace
}  // namespace molt::internal
