#include <gtest/gtest.h>

#include "master/cohort.hpp"
#include "protocol/rollout_field.hpp"

namespace molt::internal {
namespace {

TEST(RolloutFieldTest, ReadsTheShareInHundredths) {
  std::string error;
  EXPECT_EQ(rollout_of("timestamp:1\tbuild_id:v2", error), kWholeFleet);  // none: every host
  EXPECT_EQ(rollout_of("timestamp:1\trollout:12.5\tbuild_id:v2", error), 1250);
  EXPECT_EQ(rollout_of("rollout:0", error), 0);
  EXPECT_EQ(rollout_of("rollout:100", error), kWholeFleet);
  EXPECT_EQ(rollout_of("rollout:0.01", error), 1);
  EXPECT_EQ(rollout_of("rollout:33.33", error), 3333);
}

TEST(RolloutFieldTest, RefusesWhatIsNotAPercentage) {
  for (const char* comment :
       {"rollout:", "rollout:100.01", "rollout:101", "rollout:-5", "rollout:1.234", "rollout:5.",
        "rollout:.5", "rollout:5%", "rollout:1e2", "rollout:0100"}) {
    std::string error;
    EXPECT_FALSE(rollout_of(comment, error)) << comment;
    EXPECT_NE(error.find("not a percentage"), std::string::npos) << error;
  }
}

TEST(RolloutFieldTest, WritesTwoDecimals) {
  EXPECT_EQ(hundredths_text(1250), "12.50");
  EXPECT_EQ(hundredths_text(0), "0.00");
  EXPECT_EQ(hundredths_text(kWholeFleet), "100.00");
}

// The values `printf '%s\n%s' HOST BUILD | b2sum -l 64`, mod 10000, gives: an operator can
// tell which hosts a rollout reaches without molt.
TEST(CohortTest, IsBlake2bOfHostAndBuildModTenThousand) {
  EXPECT_EQ(cohort_of("host-a", "v2"), 422);
  EXPECT_EQ(cohort_of("0123456789abcdef0123456789abcdef", "sha256-abc"), 3770);
  EXPECT_NE(cohort_of("host-a", "v3"), cohort_of("host-a", "v2"));  // a fresh sample per build
}

TEST(CohortTest, AConfiguredHostIdWins) { EXPECT_EQ(host_id_or_machine_id("web-17"), "web-17"); }

}  // namespace
}  // namespace molt::internal
