#include "swap.hpp"

#include <fcntl.h>

#include "atomic_file.hpp"
#include "file_names.hpp"

namespace molt {
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

std::string install(Sys& sys, const std::string& staged_path, const std::string& bin_path,
                    std::string_view signature) {
  const std::string prev = prev_path(bin_path);
  if (std::string error = keep_as(sys, bin_path, prev); !error.empty()) return error;
  if (std::string error = keep_as(sys, signature_path(bin_path), signature_path(prev));
      !error.empty()) {
    return error;
  }
  // The signature goes first: a crash before the binary's rename leaves a downgrade floor that
  // is too high (the new build's time), never one that is too low.
  if (!signature.empty()) {
    if (std::string error = write_file_atomically(sys, signature_path(bin_path), signature, 0644);
        !error.empty()) {
      return error;
    }
  } else if (sys.unlink(signature_path(bin_path).c_str()) != 0 && errno != ENOENT) {
    return cause("remove", signature_path(bin_path));  // an unsigned build has none
  }
  if (sys.rename(staged_path.c_str(), bin_path.c_str()) != 0) return cause("rename to", bin_path);
  if (std::string error = fsync_dir(sys, dir_of(bin_path)); !error.empty()) {
    // Not durable: put the old build back rather than run one a crash could lose.
    sys.rename(prev.c_str(), bin_path.c_str());
    return error;
  }
  return {};
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

}  // namespace molt
