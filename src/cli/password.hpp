// Where the molt command gets a secret key's password.
#pragma once

#include <optional>
#include <string>

namespace molt::cli {

// The password from the environment variable MOLT_PASSWORD, else asked on the terminal
// (/dev/tty, echo off); `confirm` asks twice, for a new key. Nullopt with `error` set
// (never containing the password) when there is none.
std::optional<std::string> read_password(bool confirm, std::string& error);

// Overwrites a password before its memory is released.
void wipe(std::string& secret);

}  // namespace molt::cli
