// The INI dialect of ~/.aws/credentials and ~/.aws/config, read as botocore reads it (Python's
// RawConfigParser plus nested blocks):
//
//   [profile ci]              # config file; the credentials file says [ci]
//   region = eu-west-3
//   s3 =
//     addressing_style = path   -> key "s3.addressing_style"
//
// Names are lowercased, values trimmed; '#' and ';' start comment lines only (a '#' after a
// value is part of it, as in botocore). These files hold secrets: errors give a line number,
// never the line.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace molt::internal::s3 {

using IniSection = std::map<std::string, std::string>;
using IniFile = std::map<std::string, IniSection>;  // section name, verbatim -> its keys

// Parses `text`; `origin` names the file in the error line.
std::optional<IniFile> parse_ini(std::string_view text, std::string_view origin,
                                 std::string& error);

// Reads and parses `path`. A missing file is an empty one (every AWS tool treats it so).
std::optional<IniFile> read_ini(const std::string& path, std::string& error);

}  // namespace molt::internal::s3
