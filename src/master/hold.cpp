#include "master/hold.hpp"

#include <cerrno>
#include <cstdlib>

#include "util/atomic_file.hpp"
#include "util/json.hpp"
#include "util/paths.hpp"
#include "util/small_file.hpp"

namespace molt::internal {
namespace {

constexpr std::size_t kMaxHoldFile = 8192;  // a reason is a line, not a document

std::string file_in(const std::string& state_dir) { return state_dir + "/hold"; }

}  // namespace

std::optional<Hold> load_hold(const std::string& state_dir, std::string& error) {
  const std::string path = file_in(state_dir);
  std::optional<std::string> text = read_small_file(path, kMaxHoldFile, error);
  if (!text) {
    if (errno == ENOENT) {
      error.clear();
      return std::nullopt;
    }
    return Hold{.since = 0, .reason = "unreadable hold file: " + error};
  }
  std::string parse_error;
  std::optional<FlatJson> fields = parse_flat_json_object(*text, parse_error);
  char* end = nullptr;
  double since =
      fields && fields->count("since") ? std::strtod(fields->at("since").c_str(), &end) : 0;
  if (!fields || !fields->count("reason") || !end || *end != '\0') {
    error = path + ": not a hold record" + (parse_error.empty() ? "" : ": " + parse_error);
    return Hold{.since = 0, .reason = "unreadable hold file: " + error};
  }
  return Hold{.since = since, .reason = fields->at("reason")};
}

std::string save_hold(Sys& sys, const std::string& state_dir, const Hold& hold) {
  return write_file_atomically(
      sys, file_in(state_dir),
      JsonObject().number("since", hold.since).string("reason", hold.reason).str() + "\n");
}

std::string clear_hold(Sys& sys, const std::string& state_dir) {
  const std::string path = file_in(state_dir);
  if (sys.unlink(path.c_str()) != 0 && errno != ENOENT) return cause("remove", path);
  return fsync_dir(sys, state_dir);
}

}  // namespace molt::internal
