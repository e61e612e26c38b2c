// Text that goes into and comes out of HTTP exchanges: header lines from the options, URLs fit
// for a log line, reason phrases. Shared by the transfer and the fetchers that build on it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace molt::internal {

// `url` fit for a log line: no userinfo, no query, no fragment (where signatures and tokens go).
std::string redact_url(const std::string& url);

// `entries` with every "@/path" entry replaced by the lines of that file (blank lines and "#"
// comments skipped), appended to `out`. On failure returns false and sets `error` to a line naming
// the entry or file, never a header value.
bool expand_headers(const std::vector<std::string>& entries, std::vector<std::string>& out,
                    std::string& error);

// The standard reason phrase of an HTTP status ("Service Unavailable"), or "" for an unusual one.
std::string_view reason_phrase(long status);

// ASCII case-insensitive comparison, as header names are compared.
bool iequals(std::string_view a, std::string_view b);

std::string_view trim_space(std::string_view s);

// Text a server sent, fit for a log line: control characters become spaces, and text longer
// than `limit` is cut and ends in "...".
std::string server_text(std::string_view text, std::size_t limit = 200);

}  // namespace molt::internal
