#include "fetchers/aws_ini.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace molt::internal::s3 {
namespace {

constexpr std::string_view kSpace = " \t\r\f\v";

std::string_view trim(std::string_view text) {
  std::size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(kSpace) - begin + 1);
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// "name = value" or "name: value", split at whichever delimiter comes first.
bool split_setting(std::string_view line, std::string& name, std::string& value) {
  std::size_t at = line.find_first_of("=:");
  if (at == std::string_view::npos || trim(line.substr(0, at)).empty()) return false;
  name = lowercase(trim(line.substr(0, at)));
  value = std::string(trim(line.substr(at + 1)));
  return true;
}

}  // namespace

std::optional<IniFile> parse_ini(std::string_view text, std::string_view origin,
                                 std::string& error) {
  IniFile file;
  IniSection* section = nullptr;
  std::string parent;    // the last setting: indented lines continue it or nest under it
  bool nesting = false;  // the parent has no value of its own: indented lines are its settings
  int number = 0;
  auto fail = [&](std::string_view why) {
    error = std::string(origin) + ":" + std::to_string(number) + ": " + std::string(why);
    return std::nullopt;
  };

  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view raw = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++number;
    std::string_view line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;

    bool indented = kSpace.find(raw[0]) != std::string_view::npos;
    if (indented && section && !parent.empty()) {
      if (nesting) {
        std::string name, value;
        if (!split_setting(line, name, value)) return fail("expected 'name = value' (nested)");
        (*section)[parent + "." + name] = value;
      } else {
        (*section)[parent] += "\n" + std::string(line);  // a continued value, as Python keeps it
      }
      continue;
    }

    if (line.front() == '[') {
      std::size_t close = line.rfind(']');
      if (close == std::string_view::npos || close < 2) return fail("malformed [section] line");
      section = &file[std::string(line.substr(1, close - 1))];
      parent.clear();
      continue;
    }
    if (!section) return fail("a setting before any [section]");
    std::string name, value;
    if (!split_setting(line, name, value)) return fail("expected 'name = value'");
    nesting = value.empty();
    (*section)[name] = std::move(value);
    parent = name;
  }
  return file;
}

std::optional<IniFile> read_ini(const std::string& path, std::string& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  // Anything readable but a directory: AWS_CONFIG_FILE=/dev/null is the usual way to say "no
  // config", and botocore reads a character device or a pipe as it reads a file.
  if (fd < 0 || ::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    int cause = fd < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : errno;
    if (fd >= 0) ::close(fd);
    if (cause == ENOENT || cause == ENOTDIR) return IniFile{};  // no file: nothing configured
    error = "cannot read " + path + ": " + std::strerror(cause);
    return std::nullopt;
  }
  std::string text;
  char buffer[8192];
  ssize_t got;
  while ((got = ::read(fd, buffer, sizeof buffer)) > 0 || (got < 0 && errno == EINTR)) {
    if (got > 0) text.append(buffer, static_cast<std::size_t>(got));
  }
  int cause = errno;
  ::close(fd);
  if (got < 0) {
    error = "cannot read " + path + ": " + std::strerror(cause);
    return std::nullopt;
  }
  return parse_ini(text, path, error);
}

}  // namespace molt::internal::s3
