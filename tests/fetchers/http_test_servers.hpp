// Real servers for the http fetcher tests: processes that die with the test, the python test
// server (tests/tools/http_test_server.py), nginx in a temp prefix, and a CA made with openssl.
// Readiness is a line the server prints, never a sleep.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "temp_files.hpp"

#ifndef MOLT_TEST_TOOLS_DIR
#error "the build must define MOLT_TEST_TOOLS_DIR (tests/tools)"
#endif

namespace molt::test {

namespace fs = std::filesystem;

// How long a server may take to say it is ready before the test gives up: a bound, not a wait.
inline constexpr std::chrono::seconds kStartLimit{30};

// A child process whose stdout or stderr comes to us through a pipe; killed when the test ends
// (or dies: PR_SET_PDEATHSIG).
class Process {
 public:
  Process(const std::vector<std::string>& argv, int piped_fd) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(fds[1], piped_fd);
      std::vector<char*> args;
      for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
  }
  ~Process() {
    stop(SIGKILL);
    close(out_);
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Reads lines until one contains `needle`. Returns it, or nullopt at end of output or after
  // kStartLimit; everything read so far stays in output().
  std::optional<std::string> wait_for_line(std::string_view needle) {
    auto deadline = std::chrono::steady_clock::now() + kStartLimit;
    for (;;) {
      std::size_t newline;
      while ((newline = pending_.find('\n')) != std::string::npos) {
        std::string line = pending_.substr(0, newline);
        pending_.erase(0, newline + 1);
        output_ += line + "\n";
        if (line.find(needle) != std::string::npos) return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{out_, POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
      char buffer[4096];
      ssize_t n = read(out_, buffer, sizeof buffer);
      if (n <= 0) return {};
      pending_.append(buffer, static_cast<std::size_t>(n));
    }
  }
  const std::string& output() const { return output_; }

  // Sends `signal` and reaps the process. Returns its wait status.
  int stop(int signal) {
    if (pid_ <= 0) return status_;
    kill(pid_, signal);
    while (waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int status_ = 0;
  std::string pending_;
  std::string output_;
};

// Runs a command to the end, its output in `log`. Returns true when it exits with 0.
inline bool run(const std::vector<std::string>& argv, const fs::path& log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// A port nobody listens on right now (the kernel's choice). Between this and the server's bind
// another process could take it; the caller retries when the bind fails.
inline int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof addr;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), size);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size);
  close(fd);
  return ntohs(addr.sin_port);
}

// A CA and a server certificate for 127.0.0.1 signed by it.
struct TestPki {
  fs::path ca_cert, server_cert, server_key;

  // tests/tools/make_pki.sh, the one CA of every test and benchmark.
  static TestPki make(const fs::path& dir) {
    TestPki pki{dir / "ca.crt", dir / "server.crt", dir / "server.key"};
    if (!run({(fs::path(MOLT_TEST_TOOLS_DIR) / "make_pki.sh").string(), dir.string()},
             dir / "make_pki.log")) {
      throw std::runtime_error("make_pki.sh failed: " + read_file(dir / "make_pki.log"));
    }
    return pki;
  }
};

// tests/tools/http_test_server.py serving `root`; over TLS when given a certificate.
class PythonServer {
 public:
  explicit PythonServer(const fs::path& root, const TestPki* tls = nullptr)
      : scheme_(tls ? "https" : "http") {
    std::vector<std::string> argv = {"/usr/bin/python3",
                                     std::string(MOLT_TEST_TOOLS_DIR) + "/http_test_server.py",
                                     "--root", root.string()};
    if (tls) {
      argv.insert(argv.end(),
                  {"--cert", tls->server_cert.string(), "--key", tls->server_key.string()});
    }
    process_ = std::make_unique<Process>(argv, STDOUT_FILENO);
    std::optional<std::string> line = process_->wait_for_line("");
    if (!line) throw std::runtime_error("http_test_server.py did not start");
    port_ = std::stoi(*line);
  }

  std::string url(std::string_view path) const {
    return scheme_ + "://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  int port() const { return port_; }

 private:
  std::string scheme_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

// tests/tools/nginx.py: nginx in the foreground, in one process, with its config, logs and
// temp files under `dir`, logging requests in the script's format "requests".
class Nginx {
 public:
  Nginx(const fs::path& dir, const fs::path& root, const TestPki* tls = nullptr)
      : dir_(dir), scheme_(tls ? "https" : "http") {
    // Another process may take the free port before nginx binds it: then try another.
    for (int attempt = 0; attempt < 3 && !process_; ++attempt) start(root, tls);
    if (!process_) throw std::runtime_error("nginx did not start:\n" + output_);
  }

  std::string url(std::string_view path) const {
    return scheme_ + "://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

  // Stops nginx gracefully, so every request is logged, and returns the access log's lines,
  // each cut to "METHOD URI PROTOCOL STATUS BODY_BYTES" (without the connection number).
  std::vector<std::string> stop_and_read_access_log() {
    process_->stop(SIGQUIT);
    std::vector<std::string> lines;
    std::istringstream log(read_file(dir_ / "access.log"));
    for (std::string line; std::getline(log, line);)
      lines.push_back(line.substr(0, line.rfind(' ')));
    return lines;
  }

 private:
  void start(const fs::path& root, const TestPki* tls) {
    port_ = free_port();
    std::string script = std::string(MOLT_TEST_TOOLS_DIR) + "/nginx.py";
    std::vector<std::string> argv = {
        "/usr/bin/python3", script,   "--access-log", "requests", "--dir",
        dir_.string(),      "--root", root.string(),  "--port",   std::to_string(port_)};
    if (tls) {
      argv.insert(argv.end(),
                  {"--cert", tls->server_cert.string(), "--key", tls->server_key.string()});
    }
    auto process = std::make_unique<Process>(argv, STDERR_FILENO);
    // nginx logs its version once its configuration is loaded and its sockets listen.
    if (process->wait_for_line("nginx/"))
      process_ = std::move(process);
    else
      output_ += process->output();
  }

  fs::path dir_;
  std::string scheme_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
  std::string output_;
};

}  // namespace molt::test
