// Starting a child: clone, the environment of protocol/environment.hpp, exec.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <molt/state.hpp>
#include <optional>
#include <string>
#include <vector>

namespace molt::internal {

struct SpawnRequest {
  std::string path;                 // the binary to execute
  std::vector<std::string> argv;    // argv[0] included
  std::vector<Listener> listeners;  // passed as fds 3..
  std::string notify_socket;
  unsigned generation = 0;
  int drain_signal = SIGTERM;
  std::optional<int> nice;  // the child's nice value from before exec, else the master's
};

// Starts a child and returns once it has executed `request.path`. Returns its pid, or nullopt
// with `error` set; `exec_failed` says whether the file itself could not be executed (rather than
// the process not being created).
std::optional<pid_t> spawn_child(const SpawnRequest& request, std::string& error,
                                 bool& exec_failed);

// Runs `command` with /bin/sh -c in a process group of its own, the environment the children
// inherit plus `extra_env` ("NAME=value"), stdin and stdout on /dev/null, stderr the master's:
// readiness commands (--ready exec:). nullopt with `error` when the process cannot be created.
std::optional<pid_t> spawn_command(const std::string& command,
                                   const std::vector<std::string>& extra_env, std::string& error);

// "exited with status 1", "was killed by ABRT": a wait status as the log says it.
std::string describe_exit(int status);

// This process's arguments, as the master re-executes them.
std::vector<std::string> own_argv();

}  // namespace molt::internal
