#include "master/cohort.hpp"

#include <cstdint>
#include <vector>

#include "minisign/blake2b.hpp"
#include "util/small_file.hpp"

namespace molt::internal {

int cohort_of(const std::string& host_id, const std::string& build_id) {
  std::string input = host_id + "\n" + build_id;
  std::vector<std::uint8_t> digest = blake2b(8, input.data(), input.size());
  std::uint64_t value = 0;
  for (std::uint8_t byte : digest) value = value << 8 | byte;
  return static_cast<int>(value % kWholeFleet);
}

std::string host_id_or_machine_id(const std::string& configured) {
  if (!configured.empty()) return configured;
  std::string error;
  std::string id = read_small_file("/etc/machine-id", 256, error).value_or("");
  id = id.substr(0, id.find('\n'));
  return id;
}

}  // namespace molt::internal
