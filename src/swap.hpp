// Installing a new binary atomically: at every instant <bin> is a whole old or a whole new file.
//
//   stage:   a StagedFile (staged_file.hpp) at <dir>/.<name>.molt-XXXXXX
//   install: link <bin> -> <bin>.prev.tmp, rename -> <bin>.prev (the running build, no copy),
//            rename staged -> <bin>, fsync <dir>
//   rollback: rename <bin>.prev -> <bin>, fsync <dir>
#pragma once

#include <string>

#include "sys.hpp"

namespace molt {

// Each returns an empty string on success, else one line naming the step and the cause.
std::string install(Sys& sys, const std::string& staged_path, const std::string& bin_path);
std::string roll_back(Sys& sys, const std::string& bin_path);

std::string prev_path(const std::string& bin_path);

}  // namespace molt
