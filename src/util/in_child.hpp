// Running one computation in a forked child, for a process that must not load what the
// computation needs: the master checks the signature beside its binary this way, so it never
// maps libcrypto (minisign/openssl_api.hpp; issue 13).
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace molt::internal {

// Forks, runs `work` in the child, and returns the string it returned (read back over a pipe)
// once the child is reaped. The child only computes: it writes its answer and _exits, so it runs
// no atexit handler and flushes nothing of its parent's. nullopt, with `error` set to one line,
// when no child could be forked or it died without answering. Blocks until the child is done:
// for short work (an Ed25519 check) or work the caller would do inline anyway.
std::optional<std::string> run_in_child(const std::function<std::string()>& work,
                                        std::string& error);

}  // namespace molt::internal
