#include "master/swap.hpp"

#include <fcntl.h>

#include "util/atomic_file.hpp"
#include "util/paths.hpp"

namespace molt::internal {
namespace {

// Hard-links `from` as `to` (through a temp name, so `to` is always whole); a missing `from` is
// not an error. The temp name never stays behind.
std::string keep_as(Sys& sys, const std::string& from, const std::string& to) {
  const std::string tmp = to + ".tmp";
  sys.unlink(tmp.c_str());
  if (sys.link(from.c_str(), tmp.c_str()) != 0) {
    return errno == ENOENT ? "" : cause("keep " + from + " as", tmp);
  }
  if (sys.rename(tmp.c_str(), to.c_str()) != 0) {
    std::string error = cause("rename to", to);
    sys.unlink(tmp.c_str());
    return error;
  }
  return {};
}

}  // namespace

std::string prev_path(const std::string& bin_path) { return bin_path + ".prev"; }
std::string signature_path(const std::string& bin_path) { return bin_path + ".minisig"; }

std::string swap_in(Sys& sys, const std::string& staged_path, const std::string& bin_path,
                    std::string_view signature) {
  const std::string prev = prev_path(bin_path);
  if (std::string error = keep_as(sys, bin_path, prev); !error.empty()) return error;
  if (std::string error = keep_as(sys, signature_path(bin_path), signature_path(prev));
      !error.empty()) {
    return error;
  }
  // The new signature waits beside the binary as <bin>.minisig.new, fsynced, and takes its
  // place right after the binary's rename: a crash between the two leaves it there, and the
  // next master completes or drops it (finish_interrupted_install), so <bin>.minisig always
  // signs <bin>. The floor itself was written to the state dir before any of this.
  const std::string pending = pending_signature_path(bin_path);
  if (!signature.empty()) {
    if (std::string error = write_file_atomically(sys, pending, signature, 0644); !error.empty()) {
      sys.unlink(pending.c_str());  // renamed into place, but its folder was not flushed
      return error;
    }
  }
  if (sys.rename(staged_path.c_str(), bin_path.c_str()) != 0) {
    std::string error = cause("rename to", bin_path);
    sys.unlink(pending.c_str());
    return error;
  }
  bool signature_placed = signature.empty()
                              ? sys.unlink(signature_path(bin_path).c_str()) == 0 || errno == ENOENT
                              : sys.rename(pending.c_str(), signature_path(bin_path).c_str()) == 0;
  std::string error = signature_placed ? fsync_dir(sys, dir_of(bin_path))
                                       : cause("place the signature", signature_path(bin_path));
  if (!error.empty()) {
    // Not durable, or half done: put the old build back rather than run one a crash could lose.
    sys.rename(prev.c_str(), bin_path.c_str());
    if (sys.rename(signature_path(prev).c_str(), signature_path(bin_path).c_str()) != 0) {
      sys.unlink(signature_path(bin_path).c_str());  // the old build had none
    }
    sys.unlink(pending.c_str());
    return error;
  }
  return {};
}

std::string pending_signature_path(const std::string& bin_path) {
  return signature_path(bin_path) + ".new";
}

std::string roll_back(Sys& sys, const std::string& bin_path) {
  const std::string prev = prev_path(bin_path);
  if (sys.rename(prev.c_str(), bin_path.c_str()) != 0) return cause("restore", prev);
  if (sys.rename(signature_path(prev).c_str(), signature_path(bin_path).c_str()) != 0) {
    if (errno != ENOENT) return cause("restore", signature_path(prev));
    // The previous build had none (unsigned, or installed before signatures were kept): the
    // rolled-back build's signature must not stay beside it.
    sys.unlink(signature_path(bin_path).c_str());
  }
  return fsync_dir(sys, dir_of(bin_path));
}

}  // namespace molt::internal
