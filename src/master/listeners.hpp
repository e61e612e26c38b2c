// The master's listening sockets, created once and kept for its whole life.
#pragma once

#include <molt/state.hpp>
#include <string>
#include <vector>

#include "util/address.hpp"

namespace molt::internal {

// Binds and listens on every address: non-blocking (a child that loses an accept race must not
// sit in accept()), TCP_NODELAY (accepted sockets inherit it; the child cannot set it on a
// listener it did not create). Returns an empty vector and sets `error` if any fails.
std::vector<Listener> open_listeners(const std::vector<Address>& addresses, std::string& error);

void close_listeners(std::vector<Listener>& listeners);

}  // namespace molt::internal
