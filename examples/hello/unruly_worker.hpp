// A worker process that answers on an inherited listener and ignores the drain signal: what a
// careless pre-fork server leaves behind. Only the test builds of hello start one.
#pragma once

#include <string>

namespace hello {

// Forks the worker (call before any thread starts). It answers "hello from <build_id> (worker)"
// on fd `listener` until it is killed; the caller goes on at once.
void fork_unruly_worker(int listener, const std::string& build_id);

}  // namespace hello
