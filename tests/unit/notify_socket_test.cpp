// The notify socket with real processes: who may speak for a child, and what a sender's
// descriptors become.
#include "protocol/notify_socket.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "temp_files.hpp"
namespace molt::internal {
namespace {

namespace fs = std::filesystem;

class NotifySocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    socket_ = NotifySocket::create(dir_.path(), 7, error);
    ASSERT_TRUE(socket_) << error;
  }

  // Forks a process that leads its own group (as the master's children do) and runs `command`
  // with NOTIFY_SOCKET set; returns its pid.
  pid_t start_child(const std::string& command) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      ::setenv("NOTIFY_SOCKET", socket_->name().c_str(), 1);
      ::execl("/bin/sh", "sh", "-c", command.c_str(), nullptr);
      _exit(127);
    }
    ::setpgid(pid, pid);
    leader_ = pid;
    return pid;
  }

  std::vector<NotifySocket::Message> wait_for_messages() {
    pollfd p{socket_->fd(), POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 30'000), 1);
    return socket_->receive(leader_);
  }

  static int exit_status(pid_t pid) {
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  test::TempDir dir_;
  pid_t leader_ = 0;  // the child whose group may speak
  std::optional<NotifySocket> socket_;
};

TEST_F(NotifySocketTest, IsAPathInTheGivenFolder) {
  EXPECT_EQ(socket_->name(), (dir_.path() / "notify-7").string());
  EXPECT_TRUE(fs::is_socket(socket_->name()));
  std::string name = socket_->name();
  socket_.reset();
  EXPECT_FALSE(fs::exists(name));  // removed with the socket
}

TEST_F(NotifySocketTest, TheChildItselfSpeaksForIt) {
  pid_t child = ::fork();
  if (child == 0) {
    ::setpgid(0, 0);
    _exit(notify(socket_->name(), "READY=1") ? 0 : 1);
  }
  leader_ = child;
  auto messages = wait_for_messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].fields["READY"], "1");
  EXPECT_EQ(messages[0].pid, child);
  EXPECT_TRUE(messages[0].from_group);
  EXPECT_EQ(exit_status(child), 0);
}

TEST_F(NotifySocketTest, SystemdNotifyRunByTheChildIsAcceptedAndItsBarrierAnswered) {
  // sh leads the group; systemd-notify is its child and sends from a pid of its own, then
  // waits for the barrier: the master answers by closing the fd it sent. Without that answer
  // systemd-notify would wait and fail.
  pid_t child = start_child("/usr/bin/systemd-notify --ready && echo notified >/dev/null");
  std::vector<NotifySocket::Message> all;
  while (all.size() < 2) {
    auto more = wait_for_messages();
    for (auto& m : more) {
      EXPECT_TRUE(m.from_group) << "sender " << m.pid;
      all.push_back(std::move(m));
    }
  }
  EXPECT_EQ(all[0].fields["READY"], "1");
  EXPECT_EQ(all[1].fields["BARRIER"], "1");
  EXPECT_EQ(exit_status(child), 0);
}

TEST_F(NotifySocketTest, AProcessOfAnotherGroupDoesNotSpeakForTheChild) {
  pid_t child = start_child("read line");           // waits on stdin: alive, says nothing
  ASSERT_TRUE(notify(socket_->name(), "READY=1"));  // this test's own process
  auto messages = wait_for_messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].pid, ::getpid());
  EXPECT_FALSE(messages[0].from_group);
  EXPECT_NE(child, ::getpid());
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

TEST_F(NotifySocketTest, DescriptorsSentAlongAreClosed) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  int sender = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, socket_->name().c_str(), sizeof sa.sun_path - 1);
  char text[] = "STATUS=fds";
  iovec iov{text, sizeof text - 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_name = &sa;
  msg.msg_namelen = sizeof sa;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &pipe_fds[0], sizeof(int));
  ASSERT_EQ(::sendmsg(sender, &msg, 0), static_cast<ssize_t>(sizeof text - 1));
  ::close(sender);
  ::close(pipe_fds[0]);
  auto messages = wait_for_messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].fields["STATUS"], "fds");
  // The only copy of the read end was the one the socket received: once it is closed, writing
  // to the pipe fails.
  ::signal(SIGPIPE, SIG_IGN);
  EXPECT_EQ(::write(pipe_fds[1], "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
  ::close(pipe_fds[1]);
}

}  // namespace
}  // namespace molt::internal
