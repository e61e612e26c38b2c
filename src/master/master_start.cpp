// What a master takes over at start from the state dir and from a predecessor that was killed:
// the notify sockets' folder, a probation under way, the downgrade floor.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <molt/duration.hpp>

#include "master/master.hpp"
#include "master/state_file.hpp"
#include "master/swap.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"

namespace molt::internal {

// The children's notify sockets live in <state-dir>/run (private: the state dir is this user's),
// emptied of a killed master's sockets; a state dir too deep for a socket path gets a private
// folder in the runtime dir instead, removed at exit.
void Master::prepare_notify_dir() {
  if (setup_.handover) {  // the previous code's folder, with the serving child's socket in it
    notify_dir_ = setup_.handover->notify_dir;
    own_notify_dir_ = setup_.handover->own_notify_dir;
    return;
  }
  notify_dir_ = setup_.state_dir + "/run";
  if (notify_dir_.size() <= max_notify_dir_length()) {
    if (std::string error = make_private_dir(notify_dir_); !error.empty()) {
      logger().error("notify sockets: {}", error);
    }
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(notify_dir_, ec)) {
      std::filesystem::remove(entry.path(), ec);
    }
    return;
  }
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  std::string pattern = std::string(runtime && *runtime ? runtime : "/tmp") + "/molt-XXXXXX";
  if (::mkdtemp(pattern.data())) {
    notify_dir_ = pattern;
    own_notify_dir_ = true;
  } else {
    logger().error("notify sockets: mkdtemp {}: {}", pattern, std::strerror(errno));
  }
}

void Master::resume_probation() {
  std::optional<Probation> probation = load_probation(setup_.state_dir);
  if (!probation) return;
  auto left = std::chrono::milliseconds(probation->until_ms -
                                        std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  if (probation->build_id != running_build_id_ || left.count() <= 0) {
    clear_probation(setup_.state_dir);
    return;
  }
  logger().info("build {} is on probation for {} more (a previous master installed it)",
                probation->build_id, format_duration(left));
  supervisor_.resume_probation(probation->build_id, Clock::now() + left);
}

void Master::load_floor() {
  if (std::string said = finish_interrupted_install(setup_.bin_path, setup_.keys); !said.empty()) {
    logger().warn("state: {}", said);
  }
  std::string state_error, installed_error;
  std::optional<std::int64_t> state = load_high_water(setup_.state_dir, state_error);
  std::optional<std::int64_t> installed =
      installed_signature_time(setup_.bin_path, setup_.keys, installed_error);
  if (!installed_error.empty()) logger().warn("state: {}", installed_error);
  std::string floor_error;
  if (!state_error.empty() && installed) {
    logger().error("state: {}; the downgrade floor comes from {} alone", state_error,
                   signature_path(setup_.bin_path));
  } else if (!state_error.empty() && !setup_.config.allow_downgrade) {
    floor_error = "state: " + state_error +
                  "; no downgrade floor can be trusted, so no build is taken until the file is "
                  "repaired or removed (or --allow-downgrade)";
  }
  schedule_.set_floor(std::max(state, installed), std::move(floor_error));
}

}  // namespace molt::internal
