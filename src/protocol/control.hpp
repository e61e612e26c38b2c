// The control socket: how `molt status`, `molt check` and the rest talk to a running master.
//
//   <state-dir>/control   a unix stream socket; the state dir is the master user's alone (0700)
//                         and the master also checks each peer's uid (SO_PEERCRED): root or its
//                         own user, anyone else gets an error answer.
//
// One request per connection: one line, a flat JSON object {"command": "...", ...}; one answer
// line, {"ok": true, ...} or {"ok": false, "error": "..."}; then the master closes. Commands:
//   status            what runs, the last check, the next, bad builds, the floor, the hold
//   metrics           {"ok": true, "text": "<the Prometheus text format>"}
//   check             checks now; answers once the check, and the upgrade it started, is over
//   restart           a new child on the same build; answers once it is ready or has failed
//   rollback          <bin>.prev as an upgrade (ready, then drain); the current build is bad
//   hold {"reason"}   takes no new build, across master restarts, until resume
//   resume            takes new builds again, and checks now
// README.md ("Operating it") shows each answer.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace molt::internal::control {

inline constexpr const char* kSocketName = "control";
inline constexpr std::size_t kMaxRequest = 4096;
// Bounds what a client reads: a status with many bad builds is a few KiB.
inline constexpr std::size_t kMaxAnswer = 1 << 20;

inline constexpr const char* kStatus = "status";
inline constexpr const char* kMetrics = "metrics";
inline constexpr const char* kCheck = "check";
inline constexpr const char* kRestart = "restart";
inline constexpr const char* kRollback = "rollback";
inline constexpr const char* kHold = "hold";
inline constexpr const char* kResume = "resume";

std::string socket_path(const std::string& state_dir);

// The client's side: connects, sends `request` (one JSON object, no newline) and returns the
// answer line. nullopt and one line in `error` when there is no master or no whole answer.
std::optional<std::string> ask(const std::string& socket_path, const std::string& request,
                               std::string& error);

}  // namespace molt::internal::control
