#include "control_commands.hpp"

#include <ctime>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "protocol/control.hpp"
#include "util/json.hpp"
#include "util/time_text.hpp"

namespace molt::cli {
namespace {

using json = nlohmann::ordered_json;  // the master's field order, which reads best

// Which master: the state dir it was given (--state-dir), or the default beside its binary.
struct Target {
  std::string bin;
  std::string state_dir;
};

std::string socket_of(const Target& target) {
  return internal::control::socket_path(target.state_dir.empty() ? target.bin + ".molt"
                                                                 : target.state_dir);
}

void add_target(CLI::App& command, Target& target) {
  auto* bin =
      command.add_option("BIN", target.bin, "the program's binary (its state dir is BIN.molt)");
  auto* dir = command.add_option("--state-dir", target.state_dir,
                                 "the master's state dir, when it is not BIN.molt");
  bin->excludes(dir);
  dir->excludes(bin);
}

void require_target(std::string_view command, const Target& target) {
  if (target.bin.empty() && target.state_dir.empty()) {
    throw CLI::ValidationError("molt " + std::string(command),
                               "which master? Give the program's BIN or --state-dir DIR");
  }
}

// Sends one request and returns the answer, parsed; a failure to ask is the command's failure.
json ask(std::string_view command, const Target& target, const std::string& request) {
  std::string error;
  std::optional<std::string> answer = internal::control::ask(socket_of(target), request, error);
  json parsed = answer ? json::parse(*answer, nullptr, false) : json();
  if (!answer || parsed.is_discarded() || !parsed.is_object()) {
    std::cerr << "molt " << command << ": "
              << (answer ? "the master's answer is not a JSON object: " + *answer : error) << "\n";
    throw CLI::RuntimeError(1);
  }
  return parsed;
}

std::string text_of(const json& value, const char* key) {
  auto it = value.find(key);
  return it != value.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string local_time(double unix_seconds) {
  return internal::time_text(static_cast<std::int64_t>(unix_seconds), internal::Zone::kLocal);
}

// "3h 2m", "2h 0m", "45s": the largest unit and the next, as a person reads an uptime.
std::string span(long long seconds) {
  static constexpr std::pair<long long, const char*> kUnits[] = {
      {86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  std::size_t i = 0;
  while (i + 1 < std::size(kUnits) && seconds < kUnits[i].first) ++i;
  std::string out = std::to_string(seconds / kUnits[i].first) + kUnits[i].second;
  if (i + 1 < std::size(kUnits)) {
    out += " " + std::to_string(seconds % kUnits[i].first / kUnits[i + 1].first) +
           kUnits[i + 1].second;
  }
  return out;
}

// "12s ago", "in 30s", "now".
std::string ago(double unix_seconds, double now) {
  auto seconds = static_cast<long long>(now - unix_seconds);
  if (seconds == 0) return "now";
  return seconds < 0 ? "in " + span(-seconds) : span(seconds) + " ago";
}

std::string child_line(const json& child) {
  std::string line = "pid " + std::to_string(child.value("pid", 0));
  if (child.contains("build_id")) line += ", build " + text_of(child, "build_id");
  if (child.contains("generation"))
    line += ", generation " + std::to_string(child.value("generation", 0));
  return line;
}

// The status as a person reads it: one thing per line, each under 100 columns or so.
void print_status(const json& s) {
  const double now = static_cast<double>(std::time(nullptr));
  std::cout << (s.value("serving", false) ? "serving" : "NOT serving") << " build "
            << text_of(s, "build_id") << " (" << text_of(s, "bin") << ")\n";
  const json& master = s["master"];
  std::cout << "  master      pid " << master.value("pid", 0) << ", up "
            << span(static_cast<long long>(master.value("uptime_seconds", 0.0))) << ", runs build "
            << text_of(master, "build_id") << "'s code\n";
  if (s["current"].is_object()) {
    const json& c = s["current"];
    std::cout << "  current     " << child_line(c);
    if (c.contains("since")) std::cout << ", ready " << local_time(c["since"]);
    std::cout << "\n";
    if (c.contains("signed_at")) {
      std::cout << "              signed " << local_time(c["signed_at"]) << " by key "
                << text_of(c, "key_id") << "\n";
    }
  } else {
    std::cout << "  current     none\n";
  }
  if (s["candidate"].is_object())
    std::cout << "  starting    " << child_line(s["candidate"]) << "\n";
  for (const json& d : s["draining"]) std::cout << "  draining    " << child_line(d) << "\n";
  std::cout << "  source      "
            << (s["source"].is_string() ? s["source"].get<std::string>() : "none") << "\n";
  if (s["last_check"].is_object()) {
    const json& c = s["last_check"];
    std::cout << "  last check  " << local_time(c["time"]) << " (" << ago(c["time"], now)
              << "): " << text_of(c, "outcome") << "\n              " << text_of(c, "message")
              << "\n";
  }
  if (s.value("checking", false)) {
    std::cout << "  next check  under way\n";
  } else if (s["next_check"].is_number()) {
    std::cout << "  next check  " << local_time(s["next_check"]) << " ("
              << ago(s["next_check"], now) << ")\n";
  }
  if (!s["bad_builds"].empty()) {
    std::cout << "  bad builds ";
    for (const json& b : s["bad_builds"]) std::cout << " " << b.get<std::string>();
    std::cout << "\n";
  }
  if (s["floor"].is_number()) {
    std::cout << "  floor       builds signed after " << local_time(s["floor"]) << "\n";
  }
  if (s["probation_until"].is_number()) {
    std::cout << "  probation   until " << local_time(s["probation_until"])
              << " (a crash before then rolls back)\n";
  }
  if (s["rollout"].is_object()) {
    const json& r = s["rollout"];
    std::cout << "  rollout     build " << text_of(r, "build_id") << " to "
              << r.value("percent", 0.0) << "% of hosts";
    if (r.contains("cohort")) {
      std::cout << "; this host's cohort " << r.value("cohort", 0.0)
                << (r.value("inside", false) ? " (inside)" : " (outside)");
    }
    std::cout << "\n";
  }
  if (s["hold"].is_object()) {
    std::cout << "  HELD        since " << local_time(s["hold"]["since"]) << ": "
              << text_of(s["hold"], "reason") << " (molt resume takes new builds again)\n";
  }
}

struct StatusOptions {
  Target target;
  bool json = false;
  std::string format = "text";
};

void status(const StatusOptions& opt) {
  require_target("status", opt.target);
  const std::string format = opt.json ? "json" : opt.format;
  const char* command =
      format == "prometheus" ? internal::control::kMetrics : internal::control::kStatus;
  json answer = ask("status", opt.target, internal::JsonObject().string("command", command).str());
  if (!answer.value("ok", false)) {
    std::cerr << "molt status: " << text_of(answer, "error") << "\n";
    throw CLI::RuntimeError(1);
  }
  if (format == "prometheus") {
    std::cout << text_of(answer, "text");
    return;
  }
  if (format == "json") {
    std::cout << answer.dump() << "\n";
  } else {
    print_status(answer);
  }
  // As `systemctl is-active`: 0 only while a child serves.
  if (!answer.value("serving", false)) throw CLI::RuntimeError(1);
}

struct RequestOptions {
  Target target;
  bool json = false;
  std::string reason;
};

// check, restart, rollback, hold, resume: the answer's message, and 1 when it is a failure.
void request(std::string_view command, const RequestOptions& opt) {
  require_target(command, opt.target);
  internal::JsonObject request;
  request.string("command", command);
  if (command == internal::control::kHold) request.string("reason", opt.reason);
  json answer = ask(command, opt.target, request.str());
  const bool ok = answer.value("ok", false);
  if (opt.json) {
    std::cout << answer.dump() << "\n";
  } else if (ok) {
    std::cout << text_of(answer, "message") << "\n";
  } else {
    std::cerr << "molt " << command << ": " << text_of(answer, "error") << "\n";
  }
  if (!ok) throw CLI::RuntimeError(1);
}

}  // namespace

void add_control_commands(CLI::App& app) {
  auto status_options = std::make_shared<StatusOptions>();
  CLI::App* status_command = app.add_subcommand(
      "status",
      "what a running master serves, its last and next check, bad builds, the hold "
      "(exit 0 while serving, 1 if not)");
  add_target(*status_command, status_options->target);
  auto* json_flag = status_command->add_flag("--json", status_options->json, "one JSON object");
  status_command->add_option("--format", status_options->format, "text, json or prometheus")
      ->check(CLI::IsMember({"text", "json", "prometheus"}))
      ->excludes(json_flag);
  status_command->callback([status_options] { status(*status_options); });

  struct Described {
    const char* name;
    const char* description;
  };
  for (Described d : {
           Described{internal::control::kCheck,
                     "check the source now; waits for the check and the upgrade it starts"},
           Described{internal::control::kRestart,
                     "a new child on the same build, ready before the old one drains"},
           Described{internal::control::kRollback,
                     "put <bin>.prev back as an upgrade does; the current build is marked bad"},
           Described{internal::control::kHold,
                     "take no new build, across master restarts, until molt resume"},
           Described{internal::control::kResume, "take new builds again, and check now"},
       }) {
    auto options = std::make_shared<RequestOptions>();
    CLI::App* command = app.add_subcommand(d.name, d.description);
    add_target(*command, options->target);
    command->add_flag("--json", options->json, "print the master's answer as JSON");
    if (std::string_view(d.name) == internal::control::kHold) {
      command->add_option("--reason", options->reason, "why, for molt status and the log");
    }
    std::string name = d.name;
    command->callback([name, options] { request(name, *options); });
  }
}

}  // namespace molt::cli
