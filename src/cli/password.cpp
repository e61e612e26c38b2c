#include "password.hpp"

#include <fcntl.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace molt::cli {
namespace {

// minisign's PASSWORDMAXBYTES, newline included.
constexpr std::size_t kMaxPassword = 1023;

// Writes a prompt to the terminal, retrying short writes (the CLI sees only the public API).
void say(int tty, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(tty, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads one line from the terminal with echo off, restoring the terminal afterwards.
std::optional<std::string> ask(int tty, std::string_view prompt, std::string& error) {
  termios saved{};
  bool restore = ::tcgetattr(tty, &saved) == 0;
  if (restore) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(tty, TCSAFLUSH, &quiet);
  }
  say(tty, prompt);
  std::string line;
  char c = 0;
  ssize_t n = 0;
  while ((n = ::read(tty, &c, 1)) == 1 || (n < 0 && errno == EINTR)) {
    if (n == 1 && c == '\n') break;
    if (n == 1 && line.size() < kMaxPassword) line += c;
  }
  if (restore) ::tcsetattr(tty, TCSAFLUSH, &saved);
  say(tty, "\n");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (n == 0 && line.empty()) {
    error = "no password typed (end of input on the terminal)";
    return std::nullopt;
  }
  return line;
}

}  // namespace

void wipe(std::string& secret) {
  ::explicit_bzero(secret.data(), secret.size());
  secret.clear();
}

std::optional<std::string> read_password(bool confirm, std::string& error) {
  if (const char* env = std::getenv("MOLT_PASSWORD"); env != nullptr) {
    if (*env == '\0') {
      error = "MOLT_PASSWORD is set but empty";
      return std::nullopt;
    }
    return std::string(env);
  }
  int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (tty < 0) {
    error = "no terminal to ask for the password on; set MOLT_PASSWORD";
    return std::nullopt;
  }
  auto password = ask(tty, "Password: ", error);
  if (password && confirm) {
    auto again = ask(tty, "Password (one more time): ", error);
    if (again && *again != *password) {
      error = "the two passwords differ";
      wipe(*password);
      password.reset();
    }
    if (again) wipe(*again);
    if (!again && password) {
      wipe(*password);
      password.reset();
    }
  }
  ::close(tty);
  if (password && password->empty()) {
    error = "the password is empty";
    password.reset();
  }
  return password;
}

}  // namespace molt::cli
