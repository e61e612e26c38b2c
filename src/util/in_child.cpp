#include "util/in_child.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/fd.hpp"
#include "util/write_all.hpp"

namespace molt::internal {

std::optional<std::string> run_in_child(const std::function<std::string()>& work,
                                        std::string& error) {
  Pipe pipe = Pipe::open();
  if (!pipe.read) {
    error = std::string("pipe: ") + std::strerror(errno);
    return std::nullopt;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    return std::nullopt;
  }
  if (pid == 0) {
    pipe.read.reset();
    std::string answer = work();
    _exit(write_all(pipe.write.get(), answer) ? 0 : 1);
  }
  pipe.write.reset();
  std::string answer;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(pipe.read.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const char* sig = WIFSIGNALED(status) ? ::sigabbrev_np(WTERMSIG(status)) : nullptr;
    error = sig ? std::string("the child forked to compute was killed by SIG") + sig
                : "the child forked to compute failed";
    return std::nullopt;
  }
  return answer;
}

}  // namespace molt::internal
