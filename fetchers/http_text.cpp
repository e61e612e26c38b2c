#include "fetchers/http_text.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "util/small_file.hpp"

namespace molt::internal {
namespace {

constexpr std::size_t kMaxHeaderFileSize = 64 * 1024;

// A header line curl can send as it is: a name, a colon, and no line break to smuggle another.
bool well_formed(std::string_view line) {
  std::size_t colon = line.find(':');
  return colon != std::string_view::npos && colon > 0 &&
         line.find_first_of("\r\n") == std::string_view::npos;
}

// Appends the header lines of one file.
bool read_header_file(const std::string& path, std::vector<std::string>& out, std::string& error) {
  std::optional<std::string> text = read_small_file(path, kMaxHeaderFileSize, error);
  if (!text) {
    error = "headers file " + error;
    return false;
  }
  std::istringstream file(*text);
  std::string line;
  for (int number = 1; std::getline(file, line); ++number) {
    std::string_view text = trim_space(line);
    if (text.empty() || text.starts_with('#')) continue;
    if (!well_formed(text)) {
      error =
          "headers file " + path + ": line " + std::to_string(number) + " is not \"Name: value\"";
      return false;
    }
    out.emplace_back(text);
  }
  return true;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

std::string_view trim_space(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string redact_url(const std::string& url) {
  std::size_t scheme = url.find("://");
  std::size_t host = scheme == std::string::npos ? 0 : scheme + 3;
  std::size_t authority_end = url.find_first_of("/?#", host);
  if (authority_end == std::string::npos) authority_end = url.size();
  std::size_t at = url.rfind('@', authority_end);
  if (at != std::string::npos && at >= host) host = at + 1;
  std::string out = url.substr(0, scheme == std::string::npos ? 0 : scheme + 3);
  std::size_t end = url.find_first_of("?#", authority_end);
  out += url.substr(host, (end == std::string::npos ? url.size() : end) - host);
  return out;
}

bool expand_headers(const std::vector<std::string>& entries, std::vector<std::string>& out,
                    std::string& error) {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const std::string& entry = entries[i];
    if (entry.starts_with('@')) {
      if (!read_header_file(entry.substr(1), out, error)) return false;
    } else if (well_formed(entry)) {
      out.push_back(entry);
    } else {
      error = "header " + std::to_string(i + 1) + " in the options is not \"Name: value\"";
      return false;
    }
  }
  return true;
}

// HTTP/2 and HTTP/3 send no reason phrase; error lines still want one.
std::string_view reason_phrase(long status) {
  struct Reason {
    long status;
    std::string_view text;
  };
  static constexpr Reason kReasons[] = {{200, "OK"},
                                        {206, "Partial Content"},
                                        {301, "Moved Permanently"},
                                        {302, "Found"},
                                        {303, "See Other"},
                                        {304, "Not Modified"},
                                        {307, "Temporary Redirect"},
                                        {308, "Permanent Redirect"},
                                        {400, "Bad Request"},
                                        {401, "Unauthorized"},
                                        {403, "Forbidden"},
                                        {404, "Not Found"},
                                        {408, "Request Timeout"},
                                        {410, "Gone"},
                                        {429, "Too Many Requests"},
                                        {500, "Internal Server Error"},
                                        {502, "Bad Gateway"},
                                        {503, "Service Unavailable"},
                                        {504, "Gateway Timeout"}};
  for (const Reason& reason : kReasons) {
    if (reason.status == status) return reason.text;
  }
  return "";
}

std::string server_text(std::string_view text, std::size_t limit) {
  std::string out;
  for (char c : text.substr(0, limit)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  }
  if (text.size() > limit) out += "...";
  return out;
}

}  // namespace molt::internal
