// Telling which process accepted a connection on a shared listener, with real processes.
#include "util/socket_owner.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/fd.hpp"

namespace molt::internal {
namespace {

struct Listening {
  Fd fd;
  sockaddr_in address{};
};

Listening listen_on_loopback() {
  Listening l;
  l.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  l.address.sin_family = AF_INET;
  l.address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof l.address;
  EXPECT_EQ(::bind(l.fd.get(), reinterpret_cast<sockaddr*>(&l.address), length), 0);
  EXPECT_EQ(::listen(l.fd.get(), 16), 0);
  EXPECT_EQ(::getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&l.address), &length), 0);
  return l;
}

Fd connect_to(const Listening& l) {
  Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(
      ::connect(client.get(), reinterpret_cast<const sockaddr*>(&l.address), sizeof l.address), 0);
  return client;
}

// A process in its own group that accepts one connection, says so on `told`, and holds it.
pid_t accept_in_child(const Listening& l, int told) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    int accepted = ::accept(l.fd.get(), nullptr, nullptr);
    char ok = accepted >= 0 ? '1' : '0';
    (void)!::write(told, &ok, 1);
    ::pause();
    _exit(0);
  }
  ::setpgid(pid, pid);
  return pid;
}

TEST(SocketOwnerTest, ANotYetAcceptedConnectionHasNoSocketThenTheAcceptorIsFound) {
  Listening l = listen_on_loopback();
  Fd client = connect_to(l);
  std::string error;
  std::optional<std::uint64_t> queued = accepted_socket_inode(client.get(), error);
  ASSERT_TRUE(queued) << error;
  EXPECT_EQ(*queued, 0U);  // waiting in the listener's queue

  Pipe told = Pipe::open();
  pid_t other = ::fork();  // a second child that accepts nothing: never named
  if (other == 0) {
    ::setpgid(0, 0);
    ::pause();
    _exit(0);
  }
  pid_t acceptor = accept_in_child(l, told.write.get());
  char ok = 0;
  ASSERT_EQ(::read(told.read.get(), &ok, 1), 1);
  ASSERT_EQ(ok, '1');

  std::optional<std::uint64_t> inode = accepted_socket_inode(client.get(), error);
  ASSERT_TRUE(inode) << error;
  EXPECT_NE(*inode, 0U);
  EXPECT_EQ(group_holding_socket(*inode, {other, acceptor}), acceptor);
  EXPECT_EQ(group_holding_socket(*inode, {other}), std::nullopt);

  for (pid_t pid : {other, acceptor}) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  // The acceptor is gone, and the connection's other end with it.
  EXPECT_FALSE(accepted_socket_inode(client.get(), error));
}

}  // namespace
}  // namespace molt::internal
