#include "master/metrics.hpp"

#include <cstdio>

namespace molt::internal {
namespace {

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

std::string number(double value, int decimals = 3) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

// A counter by one label, every known value listed even at zero, so a rate() sees it from the
// start.
void counter_by(std::string& out, const char* name, const char* label, const char* help,
                std::map<std::string, std::uint64_t> values,
                std::initializer_list<const char*> known) {
  family(out, name, "counter", help);
  for (const char* k : known) values.emplace(k, 0);
  for (const auto& [value, count] : values) {
    out += std::string(name) + "{" + label + "=\"" + prometheus_label(value) + "\"} " +
           std::to_string(count) + "\n";
  }
}

}  // namespace

std::string prometheus_label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string prometheus_text(const Metrics& m) {
  std::string out;
  family(out, "molt_build_info", "gauge", "The build that serves (always 1).");
  out += "molt_build_info{build_id=\"" + prometheus_label(m.build_id) + "\"} 1\n";
  counter_by(out, "molt_checks_total", "outcome", "Checks of the source, by outcome.", m.checks,
             {"nothing", "skipped", "refused", "failed", "staged"});
  counter_by(out, "molt_upgrades_total", "result", "New builds started, by how they ended.",
             m.upgrades, {"installed", "discarded", "rolled_back"});
  family(out, "molt_child_restarts_total", "counter", "Children restarted after they exited.");
  out += "molt_child_restarts_total " + std::to_string(m.child_restarts) + "\n";
  family(out, "molt_download_bytes_total", "counter", "Artifact bytes downloaded.");
  out += "molt_download_bytes_total " + std::to_string(m.download_bytes) + "\n";
  family(out, "molt_check_cpu_seconds_total", "counter",
         "CPU time (user and system) of the check helpers that exited.");
  out +=
      "molt_check_cpu_seconds_total " + number(static_cast<double>(m.check_cpu_us) / 1e6, 6) + "\n";
  if (m.last_check_time) {
    family(out, "molt_last_check_timestamp_seconds", "gauge", "When the source was last checked.");
    out += "molt_last_check_timestamp_seconds " + number(*m.last_check_time) + "\n";
  }
  if (m.last_upgrade_time) {
    family(out, "molt_last_upgrade_timestamp_seconds", "gauge",
           "When a new build was last installed.");
    out += "molt_last_upgrade_timestamp_seconds " + number(*m.last_upgrade_time) + "\n";
  }
  family(out, "molt_held", "gauge", "1 while new builds are held back (molt hold).");
  out += std::string("molt_held ") + (m.held ? "1" : "0") + "\n";
  if (m.rollout) {
    std::string build = "{build_id=\"" + prometheus_label(m.rollout->build_id) + "\"} ";
    family(out, "molt_rollout_percent", "gauge",
           "The share of hosts the last staged rollout seen is for (molt sign --rollout).");
    out += "molt_rollout_percent" + build + number(m.rollout->percent / 100.0) + "\n";
    if (m.rollout->cohort) {
      family(out, "molt_rollout_cohort", "gauge",
             "This host's cohort for that build (0-99.99): it takes the build below the share.");
      out += "molt_rollout_cohort" + build + number(*m.rollout->cohort / 100.0) + "\n";
    }
  }
  return out;
}

}  // namespace molt::internal
