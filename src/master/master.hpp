// The master: one thread, one poll loop over a signalfd, each child's notify socket, the check
// helper's pipe and the source's watch descriptor. Decisions are the Supervisor's; this class
// does the I/O they call for.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <molt/config.hpp>
#include <molt/fetcher.hpp>
#include <molt/signature.hpp>
#include <molt/state.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "master/check.hpp"
#include "master/check_helper.hpp"
#include "master/check_schedule.hpp"
#include "master/control_server.hpp"
#include "master/handover.hpp"
#include "master/hold.hpp"
#include "master/metrics.hpp"
#include "master/ready_mode.hpp"
#include "master/ready_probe.hpp"
#include "master/start_boost.hpp"
#include "master/supervisor.hpp"
#include "protocol/notify_socket.hpp"
#include "util/fd.hpp"

namespace molt::internal {

struct MasterSetup {
  Config config;
  std::string bin_path;
  std::vector<std::string> argv;
  std::vector<Listener> listeners;
  std::shared_ptr<Fetcher> fetcher;  // null: no source (Config::fetcher, or made from source)
  std::vector<sig::PublicKey> keys;
  std::string state_dir;
  std::string systemd_notify_socket;  // the master's own NOTIFY_SOCKET, when under systemd
  Fd lock;                            // <state-dir>/lock, held for the master's life (master_lock)
  // Started from <bin> itself, so its own code may follow <bin> (re-exec after an upgrade).
  bool master_runs_bin = false;
  std::optional<Handover> handover;  // this master is the previous one's process, re-executed
  ReadyMode ready;                   // Config::ready
};

class Master {
 public:
  explicit Master(MasterSetup setup);
  ~Master();
  // Runs until stopped; returns the process exit code.
  int run();

 private:
  using Clock = Supervisor::Clock;
  using TimePoint = Supervisor::TimePoint;

  struct ChildSlot {
    unsigned generation = 0;
    std::string build_id;
    NotifySocket notify;
    std::uint64_t start_ticks = 0;  // for the record of child groups (child_groups.hpp)
    int foreign_messages = 0;       // dropped since the last warning
    TimePoint foreign_warned{};
    double ready_at = 0;                // Unix time it first said READY=1; 0 before
    std::unique_ptr<ReadyProbe> probe;  // until it is ready, unless Config::ready is "notify"
  };

  bool setup_signals();
  void load_floor();
  void resume_probation();
  void prepare_notify_dir();
  void warn_foreign_sender(pid_t child, ChildSlot& slot, const NotifySocket::Message& m);
  void handle_signals();
  void check_now(const std::string& who, TimePoint now);
  void restart_now(const std::string& who, TimePoint now);
  void reap();
  void handle_notify(pid_t pid, ChildSlot& slot);
  void apply(const Supervisor::Actions& actions);
  void spawn(const Supervisor::Action& action);
  void install(const Supervisor::Action& action);
  void discard(const Supervisor::Action& action);
  void drop_staged();  // removes the staged file and forgets it
  void record_child_groups();
  void read_running_build_id();
  void remove_staged_leftovers_except_held();
  std::chrono::milliseconds check_limit() const;
  void start_check(TimePoint now);
  std::string say(const std::vector<CheckSchedule::Line>& lines, bool asked);
  void write_metrics(bool coalesce = false);
  void read_check();
  void finish_check(const std::optional<CheckOutcome>& outcome);
  std::vector<int> own_fds() const;
  void maybe_check(TimePoint now);
  int poll_timeout(TimePoint now) const;
  void log_serving_build();
  std::optional<pid_t> child_probed_by(pid_t command) const;  // runs that readiness command
  void probe_passed(pid_t pid, TimePoint now);
  void step_ready_probes(const std::vector<pollfd>& polled, std::size_t first, TimePoint now);

  MasterSetup setup_;
  Supervisor supervisor_;
  StartBoost start_boost_;
  std::string running_build_id_;  // the build at the install path
  Fd signal_fd_;
  std::map<pid_t, ChildSlot> children_;
  std::string notify_dir_;
  bool own_notify_dir_ = false;
  unsigned generation_ = 0;
  bool announced_ready_ = false;
  std::optional<int> exit_code_;

  std::optional<CheckHelper> checker_;  // when there is a source
  CheckSchedule schedule_;
  bool asked_ = false;        // someone asked for a check (SIGHUP, a child's request)
  bool check_asked_ = false;  // the check under way is the one asked for
  Metrics metrics_;
  std::string metrics_error_;  // the last failure to write the metrics file, said once
  static constexpr std::chrono::seconds kMetricsCoalesce{10};
  TimePoint metrics_written_{};
  std::optional<TimePoint> metrics_due_;  // a coalesced write waits until then
  TimePoint check_started_{};
  // A verified build in a staged file, run by the candidate until it is ready and installed.
  struct Staged {
    std::string path;
    std::string build_id;
    std::optional<std::int64_t> timestamp;
    std::string signature_text;  // kept beside <bin> once installed
    bool rollback = false;       // <bin>.prev, put back by `molt rollback`
  };
  std::optional<Staged> staged_;
  // An upgrade under way, for the one line that sums it up once the old child is gone.
  struct Upgrade {
    std::string from, to;
    std::uint64_t bytes = 0;
    TimePoint check_started, verified, ready, drain_started;
    pid_t old_pid = -1;
  };
  std::optional<Upgrade> upgrade_;
  void finish_upgrade(pid_t exited);
  void end_upgrade(bool ok, const std::string& outcome, const std::string& message);

  // The control socket and what it asks (master_control.cpp).
  struct CheckRecord {
    double time = 0;      // Unix time it ended
    std::string outcome;  // nothing, skipped, refused, failed, staged
    std::string message;
    std::optional<std::uint64_t> upgrade;  // the number the upgrade it started ends as
  };
  struct Waiter {
    int connection = 0;
    std::string command;
    std::uint64_t checks_target = 0;    // check: the check that answers it
    std::uint64_t upgrades_target = 0;  // check, rollback: the upgrade that answers it
    pid_t old_pid = -1;                 // restart: the child it replaces
  };
  struct UpgradeEnd {
    bool ok = false;
    std::string outcome;  // installed, discarded, rolled_back
    std::string message;
  };
  void open_control();
  void load_hold_state();
  void handle_control(const ControlServer::Request& request);
  void record_check(const std::string& outcome, const std::string& message);
  std::string status_json() const;
  std::string current_json(pid_t pid) const;
  void request_check(int connection);
  std::string why_not_now() const;
  void request_restart(int connection);
  void request_rollback(int connection);
  void set_hold(int connection, const std::string& reason);
  void resume(int connection);
  void answer_waiters();
  bool answer_waiter(const Waiter& waiter);
  void answer(int connection, bool ok, const std::string& outcome, const std::string& message);
  std::string held_line() const;

  std::optional<ControlServer> control_;
  std::vector<Waiter> waiters_;
  std::optional<Hold> hold_;
  std::optional<CheckRecord> last_check_;
  std::uint64_t checks_started_ = 0;
  std::uint64_t checks_finished_ = 0;
  std::uint64_t upgrades_ended_ = 0;
  UpgradeEnd last_upgrade_end_;
  std::string last_child_failure_;  // why the last new child was killed or not started
  double started_at_ = 0;           // Unix time
  std::string own_build_id_;        // the master's own code: /proc/self/exe

  // Re-executing the master into the installed build's code (master_reexec.cpp).
  struct Probe {
    pid_t pid = 0;
    TimePoint deadline{};
    std::string build_id;
  };
  void adopt(const Handover& handover);
  void maybe_reexec(TimePoint now);
  Handover handover() const;
  void start_probe();
  void probe_exited(int status);
  void reexec();
  bool reexec_wanted_ = false;
  std::optional<Probe> probe_;
};

}  // namespace molt::internal
