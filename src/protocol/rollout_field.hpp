// The "rollout:" field of a signature's trusted comment (`molt sign --rollout PERCENT`): the share
// of hosts that take the build, shared by `molt sign`, which writes it, and the check, which
// reads it (master/cohort.hpp says which hosts are inside).
#pragma once

#include <optional>
#include <string>

namespace molt::internal {

constexpr int kWholeFleet = 10000;  // rollouts and cohorts count in hundredths of a percent

// The "rollout:" field of a trusted comment, in hundredths of a percent: kWholeFleet when there
// is none; nullopt and `error` when it is not a percentage from 0 to 100 with two decimals at most.
std::optional<int> rollout_of(const std::string& trusted_comment, std::string& error);

// 1250 -> "12.50".
std::string hundredths_text(int hundredths);

}  // namespace molt::internal
