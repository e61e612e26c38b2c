// The master upgrades too (master/handover.hpp): once the installed build has passed its
// probation, the master probes it (can it take over as a master?) and then re-executes itself
// from <bin>, keeping its pid, its child, its sockets and what it counted. Until both succeed it
// goes on with the code it runs.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <molt/build_id.hpp>

#include "master/master.hpp"
#include "master/spawn.hpp"
#include "protocol/control.hpp"
#include "protocol/environment.hpp"
#include "util/log.hpp"

namespace molt::internal {
namespace {

// Loading the new code and reading the handover takes milliseconds; this is for a build whose
// start hangs.
constexpr std::chrono::seconds kProbeTimeout{10};

void set_cloexec(const std::vector<int>& fds, bool on) {
  for (int fd : fds) ::fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0);
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

constexpr double kMs = 1000.0;

// execv(bin, argv) with the handover's descriptors and its memfd kept open and named in the
// environment: the probe and the re-exec alike. Returns errno when the exec failed, with the
// descriptors close-on-exec again and the variable gone.
int exec_with_handover(const std::string& bin, std::vector<std::string> args, const Handover& h,
                       const Fd& memfd) {
  std::vector<int> keep = h.fds();
  keep.push_back(memfd.get());
  set_cloexec(keep, false);
  ::setenv(env::kHandoverFd, std::to_string(memfd.get()).c_str(), 1);
  std::vector<char*> argv = c_strings(args);
  ::execv(bin.c_str(), argv.data());
  int cause = errno;
  ::unsetenv(env::kHandoverFd);
  set_cloexec(keep, true);
  return cause;
}

}  // namespace

Handover Master::handover() const {
  Handover h;
  h.from_build = own_build_id_;
  h.started_at = started_at_;
  h.generation = generation_;
  h.announced_ready = announced_ready_;
  h.systemd_notify_socket = setup_.systemd_notify_socket;
  h.notify_dir = notify_dir_;
  h.own_notify_dir = own_notify_dir_;
  h.lock_fd = setup_.lock.get();
  h.control_fd = control_ ? control_->listener_fd() : -1;
  h.listeners = setup_.listeners;
  for (const auto& [pid, slot] : children_) {
    h.children.push_back({.pid = pid,
                          .generation = slot.generation,
                          .build_id = slot.build_id,
                          .notify_fd = slot.notify.fd(),
                          .notify_path = slot.notify.name(),
                          .start_ticks = slot.start_ticks,
                          .ready_at = slot.ready_at});
  }
  h.bad_builds.assign(schedule_.bad_build_ids().begin(), schedule_.bad_build_ids().end());
  for (const auto& [outcome, n] : metrics_.checks) h.counts["checks/" + outcome] = n;
  for (const auto& [result, n] : metrics_.upgrades) h.counts["upgrades/" + result] = n;
  h.counts["child_restarts"] = metrics_.child_restarts;
  h.counts["download_bytes"] = metrics_.download_bytes;
  if (metrics_.last_check_time) {
    h.counts["last_check_ms"] = static_cast<std::uint64_t>(*metrics_.last_check_time * kMs);
  }
  if (metrics_.last_upgrade_time) {
    h.counts["last_upgrade_ms"] = static_cast<std::uint64_t>(*metrics_.last_upgrade_time * kMs);
  }
  if (last_check_) {
    h.last_check = {last_check_->time, last_check_->outcome, last_check_->message};
  }
  return h;
}

// The new code, as the previous code left things: no child is started, the one that serves
// stays; the descriptors become close-on-exec again, so no child inherits them.
void Master::adopt(const Handover& h) {
  set_cloexec(h.fds(), true);
  started_at_ = h.started_at;
  generation_ = h.generation;
  announced_ready_ = h.announced_ready;
  for (const Handover::Child& c : h.children) {
    children_.emplace(c.pid, ChildSlot{.generation = c.generation,
                                       .build_id = c.build_id,
                                       .notify = NotifySocket::adopt(c.notify_fd, c.notify_path),
                                       .start_ticks = c.start_ticks,
                                       .ready_at = c.ready_at});
    supervisor_.adopt(c.pid, c.build_id, Clock::now());
  }
  for (const std::string& b : h.bad_builds) schedule_.mark_bad(b);
  for (const auto& [name, n] : h.counts) {
    if (name.starts_with("checks/")) metrics_.checks[name.substr(7)] = n;
    if (name.starts_with("upgrades/")) metrics_.upgrades[name.substr(9)] = n;
  }
  auto count = [&](const char* name) {
    auto it = h.counts.find(name);
    return it == h.counts.end() ? std::optional<std::uint64_t>() : it->second;
  };
  metrics_.child_restarts = count("child_restarts").value_or(0);
  metrics_.download_bytes = count("download_bytes").value_or(0);
  if (auto ms = count("last_check_ms")) metrics_.last_check_time = static_cast<double>(*ms) / kMs;
  if (auto ms = count("last_upgrade_ms")) {
    metrics_.last_upgrade_time = static_cast<double>(*ms) / kMs;
  }
  if (h.last_check) {
    last_check_ = CheckRecord{h.last_check->time, h.last_check->outcome, h.last_check->message};
  }
}

// Only when nothing is under way that the handover does not carry: one ready child and no other,
// no check, no staged build, no control request.
void Master::maybe_reexec(TimePoint now) {
  if (probe_ && now >= probe_->deadline) {
    logger().error(
        "build {} did not answer as a master within {}s: killed; the master keeps "
        "running build {}'s code",
        probe_->build_id, kProbeTimeout.count(), own_build_id_);
    ::kill(probe_->pid, SIGKILL);  // reaped as any exit: probe_exited() says the rest
    probe_->deadline = TimePoint::max();
    return;
  }
  if (!reexec_wanted_ || probe_ || supervisor_.busy() || !supervisor_.serving() ||
      children_.size() != 1 || staged_ || upgrade_ || !waiters_.empty() ||
      (checker_ && checker_->checking()) || (control_ && !control_->idle())) {
    return;
  }
  start_probe();
}

void Master::start_probe() {
  reexec_wanted_ = false;
  const std::string build = running_build_id_;
  Handover h = handover();
  std::string error;
  std::optional<Fd> memfd = handover_memfd(encode_handover(h), error);
  pid_t pid = memfd ? ::fork() : -1;
  if (pid < 0) {
    logger().error("cannot probe build {} as a master: {}", build,
                   memfd ? std::string("fork: ") + std::strerror(errno) : error);
    return;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::setenv(env::kHandoverProbe, "1", 1);
    exec_with_handover(setup_.bin_path, setup_.argv, h, *memfd);
    _exit(127);
  }
  logger().info("build {} passed probation: asking it whether it can take over as the master",
                build);
  probe_ = Probe{.pid = pid, .deadline = Clock::now() + kProbeTimeout, .build_id = build};
}

void Master::probe_exited(int status) {
  Probe probe = *std::exchange(probe_, std::nullopt);
  if (status != 0) {
    logger().error(
        "build {} cannot start as a master (it {}): the master keeps running build "
        "{}'s code",
        probe.build_id, describe_exit(status), own_build_id_);
    return;
  }
  if (probe.build_id != running_build_id_) return;  // superseded meanwhile: asked again later
  reexec();
}

// execve keeps the pid, the children and the blocked signal mask (so a SIGCHLD that arrives
// meanwhile waits in the new code's signalfd); only the handover's descriptors stay open.
void Master::reexec() {
  Handover h = handover();
  std::string error;
  std::optional<Fd> memfd = handover_memfd(encode_handover(h), error);
  if (!memfd) {
    logger().error("cannot re-execute the master: {}", error);
    return;
  }
  logger().info("re-executing the master as build {} (it runs build {}'s code)", running_build_id_,
                own_build_id_);
  logger().flush();
  int cause = exec_with_handover(setup_.bin_path, setup_.argv, h, *memfd);
  logger().error("cannot re-execute the master as {}: {}; it keeps running build {}'s code",
                 setup_.bin_path, std::strerror(cause), own_build_id_);
}

}  // namespace molt::internal
