// The child's side of the handoff: reads what the master passed, turns the drain signal into an
// eventfd, and speaks sd_notify.
#pragma once

#include <atomic>
#include <functional>
#include <molt/state.hpp>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace molt::internal {

class ChildState final : public State {
 public:
  // Reads the environment the master set. Returns null with `error` if it is inconsistent.
  static std::unique_ptr<ChildState> from_environment(int drain_signal, std::string& error);
  // A State without a master (Config::supervise = false): the listeners are this process's own,
  // and any of `drain_signals` begins the drain.
  static std::unique_ptr<ChildState> unsupervised(std::vector<Listener> listeners,
                                                  const std::vector<int>& drain_signals);
  ~ChildState() override;

  const std::vector<Listener>& listeners() const override { return listeners_; }
  const std::string& build_id() const override { return build_id_; }
  unsigned generation() const override { return generation_; }
  int master_pid() const override { return master_pid_; }
  void ready() override;
  void stopping() override;
  void status(const std::string& text) override;
  void request_check() override;
  void request_restart() override;
  bool draining() const override;
  int drain_fd() const override { return drain_fd_; }
  void on_drain(std::function<void()> callback) override;
  void wait_for_drain() override;

 private:
  ChildState() = default;
  void catch_drain_signals(const std::vector<int>& signals);
  void watch();

  std::vector<Listener> listeners_;
  std::string build_id_;
  unsigned generation_ = 0;
  int master_pid_ = 0;
  std::string notify_socket_;
  int drain_fd_ = -1;
  int stop_fd_ = -1;  // wakes the watcher thread at destruction
  std::mutex mutex_;
  std::vector<std::function<void()>> callbacks_;  // guarded by mutex_, as is drained_
  bool drained_ = false;                          // the watcher took callbacks_ to run them
  std::thread watcher_;
};

}  // namespace molt::internal
