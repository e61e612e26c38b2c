// Everything the master needs to know; see molt.hpp for how it is used.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace molt {

using Duration = std::chrono::milliseconds;

// How sources that speak HTTP reach their server (the http and s3 fetchers).
struct HttpOptions {
  std::string ca_file;                  // extra CA bundle; empty: the system store
  std::vector<std::string> headers;     // "Name: value" lines; values are never logged
  std::uint64_t max_size = 1ull << 30;  // an artifact larger than this is refused
  Duration connect_timeout{10'000};
  Duration stall_timeout{30'000};  // no byte for this long aborts the transfer
  Duration total_timeout{600'000};
  int max_redirects = 5;
};

// How the s3 fetcher signs its requests. Unset fields come from the AWS environment variables
// and ~/.aws files, as every AWS tool reads them.
struct S3Options {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string region;
  std::string profile;
  std::string endpoint;  // custom endpoint URL; empty: AWS
  enum class Style { kAuto, kPath, kVirtualHosted } style = Style::kAuto;
  bool anonymous = false;
};

struct Config {
  // Where the program listens: "host:port", "[v6addr]:port", ":port" (every address) or
  // "unix:/path", each optionally prefixed by "NAME=" (the name the child sees).
  std::vector<std::string> listen;

  // Where new builds come from: a file path, an http(s):// URL or an s3://bucket/key URL.
  // Empty: no updates, the master only supervises.
  std::string source;

  Duration poll_interval{5'000};
  Duration ready_timeout{30'000};  // a new child must send READY=1 within this
  Duration drain_timeout{30'000};  // an old child gets this long to finish before SIGKILL
  Duration probation{10'000};      // a crash within this after an upgrade rolls back
  int drain_signal = SIGTERM;

  // The binary that is swapped and re-executed. Empty: this executable (/proc/self/exe).
  std::string install_path;

  // Public keys (minisign format files) any of which may sign an artifact. A source without a
  // key is refused unless insecure_no_verify is set.
  std::vector<std::string> pubkeys;
  bool insecure_no_verify = false;
  bool allow_downgrade = false;
  std::string state_dir;  // empty: "<install_path>.molt" beside the binary

  HttpOptions http;
  S3Options s3;

  std::string log_level = "info";  // spdlog level name
};

}  // namespace molt
