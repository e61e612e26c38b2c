// molt: a program that upgrades itself without dropping a connection.
//
// The process model in ten lines:
//   - main() builds a molt::Config and calls molt::run(config, program).
//   - The first process becomes the master: it creates the listeners, keeps them for life, and
//     starts a child (this same binary, re-executed) that calls program(state).
//   - The child receives the listeners from fd 3 on (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES, as
//     systemd socket activation) and says READY=1 on NOTIFY_SOCKET when it serves.
//   - The master polls the source; a new signed build is verified into a staged file and started
//     from it beside the old child. Once the new one is ready, the file is swapped into place
//     atomically and the old child gets the drain signal (SIGTERM), finishes what it has in
//     flight and exits.
//   - A new build that fails to become ready is killed and discarded; the old one never stopped
//     and the binary was never replaced. One that crashes during its probation is rolled back.
//   - Master signals: SIGHUP checks the source now, SIGUSR2 restarts the child, SIGTERM/SIGINT
//     drain and exit.
//
// Example:
//   int main(int argc, char** argv) {
//     molt::Config config;
//     config.listen = {"127.0.0.1:8080"};
//     config.source = "/srv/drop/app";
//     config.pubkeys = {"/etc/app/molt.pub"};
//     return molt::run(config, [](molt::State& state) {
//       MyServer server(state.listeners()[0].fd);
//       state.on_drain([&] { server.stop_accepting_and_finish(); });
//       state.ready();
//       server.serve();
//       return 0;
//     });
//   }
#pragma once

#include <functional>
#include <molt/build_id.hpp>
#include <molt/config.hpp>
#include <molt/state.hpp>
#include <molt/version.hpp>
#include <string>
#include <vector>

namespace molt {

using Program = std::function<int(State&)>;

// Runs as master (supervises; returns the exit code when told to stop) or as child (returns what
// `program` returns), depending on how this process was started. A bad configuration logs one line
// and returns 2.
int run(const Config& config, const Program& program);

// The library's version, "0.1.0".
const char* version();

}  // namespace molt
