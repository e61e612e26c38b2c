// The metrics file: Prometheus's text format, every family typed, counters present from zero.
#include "master/metrics.hpp"

#include <gtest/gtest.h>

namespace molt::internal {
namespace {

TEST(MetricsTest, ANewMasterShowsEveryCounterAtZero) {
  Metrics m;
  m.build_id = "v1";
  std::string text = prometheus_text(m);
  EXPECT_NE(text.find("# TYPE molt_build_info gauge\nmolt_build_info{build_id=\"v1\"} 1\n"),
            std::string::npos)
      << text;
  for (const char* line :
       {"molt_checks_total{outcome=\"nothing\"} 0\n", "molt_checks_total{outcome=\"staged\"} 0\n",
        "molt_upgrades_total{result=\"installed\"} 0\n",
        "molt_upgrades_total{result=\"rolled_back\"} 0\n", "molt_child_restarts_total 0\n",
        "molt_download_bytes_total 0\n", "molt_check_cpu_seconds_total 0.000000\n",
        "molt_held 0\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << text;
  }
  // No time yet: the gauge is absent rather than 1970.
  EXPECT_EQ(text.find("molt_last_check_timestamp_seconds"), std::string::npos) << text;
}

TEST(MetricsTest, CountsTimesAndHold) {
  Metrics m;
  m.build_id = "v2";
  m.checks["failed"] = 3;
  m.upgrades["installed"] = 2;
  m.download_bytes = 1048576;
  m.check_cpu_us = 9'876'543;
  m.last_check_time = 1764806400.25;
  m.held = true;
  std::string text = prometheus_text(m);
  EXPECT_NE(text.find("molt_checks_total{outcome=\"failed\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("molt_upgrades_total{result=\"installed\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("molt_download_bytes_total 1048576\n"), std::string::npos);
  EXPECT_NE(text.find("molt_check_cpu_seconds_total 9.876543\n"), std::string::npos);
  EXPECT_NE(text.find("molt_last_check_timestamp_seconds 1764806400.250\n"), std::string::npos);
  EXPECT_NE(text.find("molt_held 1\n"), std::string::npos);
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  EXPECT_EQ(prometheus_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  Metrics m;
  m.build_id = "evil\"} 1\nmolt_held 1";
  std::string text = prometheus_text(m);
  EXPECT_NE(text.find("molt_build_info{build_id=\"evil\\\"} 1\\nmolt_held 1\"} 1\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace molt::internal
