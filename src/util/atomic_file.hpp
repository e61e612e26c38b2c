// Replacing a small file so that a crash leaves the old or the new contents, never a mix: write a
// temp file beside it, fsync, rename over, fsync the folder. Through the Sys seam, so a test can
// fail each step; a failed step removes the temp file.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "util/sys.hpp"

namespace molt::internal {

// Whether the file must survive a crash of the machine (fsync of the file and the folder), or
// only of the process (a whole old or new file either way).
enum class Durability { kMachineCrash, kProcessCrash };

// Empty on success, else one line naming the step, the file and the cause.
std::string write_file_atomically(Sys& sys, const std::string& path, std::string_view contents,
                                  mode_t mode = 0600,
                                  Durability durability = Durability::kMachineCrash);

// fsync of a folder, so a rename or unlink in it is durable.
std::string fsync_dir(Sys& sys, const std::string& dir);

// Makes `path` a folder only this user can change (created 0700 when missing). A folder that is
// not one, belongs to another user or that others may write is refused: state that decides what
// runs must not be writable by another local user.
std::string make_private_dir(const std::string& path);

}  // namespace molt::internal
