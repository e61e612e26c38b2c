#include "swap.hpp"

#include <fcntl.h>

#include "atomic_file.hpp"
#include "file_names.hpp"

namespace molt {

std::string prev_path(const std::string& bin_path) { return bin_path + ".prev"; }

std::string install(Sys& sys, const std::string& staged_path, const std::string& bin_path) {
  std::string prev = prev_path(bin_path);
  std::string prev_tmp = prev + ".tmp";
  sys.unlink(prev_tmp.c_str());
  if (sys.link(bin_path.c_str(), prev_tmp.c_str()) != 0) {
    if (errno != ENOENT) return cause("keep the running binary as", prev_tmp);
  } else if (sys.rename(prev_tmp.c_str(), prev.c_str()) != 0) {
    std::string error = cause("rename to", prev);
    sys.unlink(prev_tmp.c_str());
    return error;
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
  std::string prev = prev_path(bin_path);
  if (sys.rename(prev.c_str(), bin_path.c_str()) != 0) return cause("restore", prev);
  return fsync_dir(sys, dir_of(bin_path));
}

}  // namespace molt
