// Staged rollouts (`molt sign --rollout PERCENT`): a signature's trusted comment may say
// "rollout:12.5", the share of hosts that take the build. A host takes it when its cohort for the
// build, a hash of its host id and the BuildID mapped to 0.00-99.99, is below that share:
//
//   cohort = (first 8 bytes, big-endian, of BLAKE2b-64(host_id "\n" build_id)) mod 10000 / 100
//
// (`printf '%s\n%s' HOST BUILD | b2sum -l 64` shows the bytes). Each build draws a fresh sample
// of hosts; signing the same file again with a higher share only adds hosts; "rollout:0" halts a
// rollout (hosts already on the build stay on it); no "rollout:" means every host.
#pragma once

#include <string>

#include "protocol/rollout_field.hpp"

namespace molt::internal {

// This host's cohort for a build, 0..9999.
int cohort_of(const std::string& host_id, const std::string& build_id);

// The host's id: `configured`, else /etc/machine-id's first line; "" when neither is there.
std::string host_id_or_machine_id(const std::string& configured);

}  // namespace molt::internal
