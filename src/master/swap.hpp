// Installing a new binary atomically: at every instant <bin> is a whole old or a whole new file.
//
//   stage:   a StagedFile (staged_file.hpp) at <dir>/.<name>.molt-XXXXXX
//   swap_in: link <bin> -> <bin>.prev.tmp, rename -> <bin>.prev (the running build, no copy),
//            the same for <bin>.minisig -> <bin>.prev.minisig, write the new build's signature
//            as <bin>.minisig.new (atomically), rename staged -> <bin>, rename the signature
//            to <bin>.minisig, fsync <dir>
//   rollback: rename <bin>.prev -> <bin> and <bin>.prev.minisig -> <bin>.minisig, fsync <dir>
// <bin>.minisig is the installed build's signature: the downgrade floor survives a lost state
// dir (state_file.hpp).
#pragma once

#include <string>
#include <string_view>

#include "util/sys.hpp"

namespace molt::internal {

// Each returns an empty string on success, else one line naming the step and the cause.
// `signature`: the staged build's .minisig text (empty: an unsigned build).
std::string swap_in(Sys& sys, const std::string& staged_path, const std::string& bin_path,
                    std::string_view signature = {});
std::string roll_back(Sys& sys, const std::string& bin_path);

std::string prev_path(const std::string& bin_path);
std::string signature_path(const std::string& bin_path);
// Where an install leaves the new signature until the binary's rename is done.
std::string pending_signature_path(const std::string& bin_path);

}  // namespace molt::internal
