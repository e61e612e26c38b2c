#include "master/handover.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "util/json.hpp"
#include "util/small_file.hpp"
#include "util/write_all.hpp"

namespace molt::internal {
namespace {

constexpr std::size_t kMaxHandover = 16 << 20;  // thousands of bad builds still fit
constexpr const char* kVersion = "1";

template <typename T>
bool number_of(const FlatJson& line, const char* key, T& out) {
  auto it = line.find(key);
  if (it == line.end()) return false;
  const std::string& text = it->second;
  if constexpr (std::is_floating_point_v<T>) {
    char* end = nullptr;
    out = std::strtod(text.c_str(), &end);
    return end && *end == '\0' && !text.empty();
  } else {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
  }
}

bool text_of(const FlatJson& line, const char* key, std::string& out) {
  auto it = line.find(key);
  if (it == line.end()) return false;
  out = it->second;
  return true;
}

bool open_fd(int fd) { return fd >= 0 && ::fcntl(fd, F_GETFD) >= 0; }

}  // namespace

std::vector<int> Handover::fds() const {
  std::vector<int> fds{lock_fd};
  if (control_fd >= 0) fds.push_back(control_fd);
  for (const Listener& l : listeners) fds.push_back(l.fd);
  for (const Child& c : children) fds.push_back(c.notify_fd);
  return fds;
}

std::string encode_handover(const Handover& h) {
  std::string out;
  auto line = [&](JsonObject& o) { out += o.str() + "\n"; };
  JsonObject master;
  master.string("kind", "master")
      .string("version", kVersion)
      .string("from_build", h.from_build)
      .number("started_at", h.started_at)
      .number("generation", std::int64_t{h.generation})
      .boolean("announced_ready", h.announced_ready)
      .string("systemd_notify_socket", h.systemd_notify_socket)
      .string("notify_dir", h.notify_dir)
      .boolean("own_notify_dir", h.own_notify_dir)
      .number("lock_fd", std::int64_t{h.lock_fd})
      .number("control_fd", std::int64_t{h.control_fd});
  line(master);
  for (const Listener& l : h.listeners) {
    JsonObject o;
    o.string("kind", "listener")
        .number("fd", std::int64_t{l.fd})
        .string("name", l.name)
        .string("address", l.address);
    line(o);
  }
  for (const Handover::Child& c : h.children) {
    JsonObject o;
    o.string("kind", "child")
        .number("pid", std::int64_t{c.pid})
        .number("generation", std::int64_t{c.generation})
        .string("build_id", c.build_id)
        .number("notify_fd", std::int64_t{c.notify_fd})
        .string("notify_path", c.notify_path)
        .number("start_ticks", static_cast<std::int64_t>(c.start_ticks))
        .number("ready_at", c.ready_at);
    line(o);
  }
  for (const std::string& b : h.bad_builds) {
    JsonObject o;
    o.string("kind", "bad").string("build_id", b);
    line(o);
  }
  for (const auto& [name, value] : h.counts) {
    JsonObject o;
    o.string("kind", "count")
        .string("name", name)
        .number("value", static_cast<std::int64_t>(value));
    line(o);
  }
  if (h.last_check) {
    JsonObject o;
    o.string("kind", "check")
        .number("time", h.last_check->time)
        .string("outcome", h.last_check->outcome)
        .string("message", h.last_check->message);
    line(o);
  }
  return out;
}

std::optional<Handover> decode_handover(std::string_view text, std::string& error) {
  Handover h;
  bool have_master = false;
  int number = 0;
  while (!text.empty()) {
    ++number;
    std::size_t end = text.find('\n');
    if (end == std::string_view::npos) {
      error = "handover line " + std::to_string(number) + " has no end";
      return std::nullopt;
    }
    std::string parse_error;
    std::optional<FlatJson> line = parse_flat_json_object(text.substr(0, end), parse_error);
    text.remove_prefix(end + 1);
    std::string kind;
    if (!line || !text_of(*line, "kind", kind)) {
      error = "handover line " + std::to_string(number) + ": " + (line ? "no kind" : parse_error);
      return std::nullopt;
    }
    bool ok = true;
    auto flag = [&](const char* key) { return line->count(key) && line->at(key) == "true"; };
    if (kind == "master") {
      std::string version;
      ok = text_of(*line, "version", version) && version == kVersion &&
           text_of(*line, "from_build", h.from_build) &&
           number_of(*line, "started_at", h.started_at) &&
           number_of(*line, "generation", h.generation) &&
           text_of(*line, "systemd_notify_socket", h.systemd_notify_socket) &&
           text_of(*line, "notify_dir", h.notify_dir) && number_of(*line, "lock_fd", h.lock_fd) &&
           number_of(*line, "control_fd", h.control_fd) && open_fd(h.lock_fd) &&
           (h.control_fd == -1 || open_fd(h.control_fd));
      h.announced_ready = flag("announced_ready");
      h.own_notify_dir = flag("own_notify_dir");
      have_master = ok;
    } else if (kind == "listener") {
      Listener l;
      ok = number_of(*line, "fd", l.fd) && text_of(*line, "name", l.name) &&
           text_of(*line, "address", l.address) && open_fd(l.fd);
      h.listeners.push_back(l);
    } else if (kind == "child") {
      Handover::Child c;
      ok = number_of(*line, "pid", c.pid) && c.pid > 0 &&
           number_of(*line, "generation", c.generation) && text_of(*line, "build_id", c.build_id) &&
           number_of(*line, "notify_fd", c.notify_fd) &&
           text_of(*line, "notify_path", c.notify_path) &&
           number_of(*line, "start_ticks", c.start_ticks) &&
           number_of(*line, "ready_at", c.ready_at) && open_fd(c.notify_fd);
      h.children.push_back(c);
    } else if (kind == "bad") {
      std::string b;
      ok = text_of(*line, "build_id", b);
      h.bad_builds.push_back(b);
    } else if (kind == "count") {
      std::string name;
      std::uint64_t value = 0;
      ok = text_of(*line, "name", name) && number_of(*line, "value", value);
      h.counts[name] = value;
    } else if (kind == "check") {
      Handover::LastCheck c;
      ok = number_of(*line, "time", c.time) && text_of(*line, "outcome", c.outcome) &&
           text_of(*line, "message", c.message);
      h.last_check = c;
    }  // a kind this code does not know is left to the code that knows it
    if (!ok) {
      error = "handover line " + std::to_string(number) + " (" + kind +
              "): a field is missing or wrong, or a descriptor it names is not open";
      return std::nullopt;
    }
  }
  if (!have_master) {
    error = "the handover has no master line";
    return std::nullopt;
  }
  return h;
}

std::optional<Fd> handover_memfd(const std::string& text, std::string& error) {
  Fd fd(::memfd_create("molt-handover", 0));  // no MFD_CLOEXEC: the new code reads it
  if (!fd || !write_all(fd.get(), text) || ::lseek(fd.get(), 0, SEEK_SET) != 0) {
    error = std::string("handover memfd: ") + std::strerror(errno);
    return std::nullopt;
  }
  return fd;
}

std::optional<std::string> read_handover_fd(const char* fd_text, std::string& error) {
  int fd = -1;
  std::string_view t(fd_text);
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), fd);
  if (ec != std::errc() || end != t.data() + t.size() || !open_fd(fd)) {
    error = std::string("MOLT_HANDOVER_FD=") + fd_text + " is not an open descriptor";
    return std::nullopt;
  }
  Fd owned(fd);  // read through its /proc name, as any small file is: bounded, regular only
  std::optional<std::string> text =
      read_small_file("/proc/self/fd/" + std::to_string(fd), kMaxHandover, error);
  if (!text) error = "handover: " + error;
  return text;
}

}  // namespace molt::internal
