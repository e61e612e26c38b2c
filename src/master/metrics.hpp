// What the master counts, in the Prometheus text format (node_exporter's textfile collector reads
// the file --metrics-file names; `molt status --format prometheus` prints the same).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace molt::internal {

struct Metrics {
  std::string build_id;                           // the build that serves
  std::map<std::string, std::uint64_t> checks;    // by outcome: nothing, skipped, refused, ...
  std::map<std::string, std::uint64_t> upgrades;  // by result: installed, discarded, rolled_back
  std::uint64_t child_restarts = 0;               // children restarted after an exit
  std::uint64_t download_bytes = 0;               // artifact bytes fetched
  std::uint64_t check_cpu_us = 0;                 // CPU of the check helpers that exited
  std::optional<double> last_check_time;          // Unix time, seconds
  std::optional<double> last_upgrade_time;
  bool held = false;  // new builds are not taken
  // The last staged rollout seen (master/cohort.hpp), in hundredths of a percent.
  struct Rollout {
    std::string build_id;
    int percent = 0;
    std::optional<int> cohort;  // none without a host id
  };
  std::optional<Rollout> rollout;
};

std::string prometheus_text(const Metrics& metrics);

// The time as the timestamp gauges want it: Unix seconds.
inline double unix_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A label value as the text format wants it: backslash, double quote and newline escaped.
std::string prometheus_label(const std::string& value);

}  // namespace molt::internal
