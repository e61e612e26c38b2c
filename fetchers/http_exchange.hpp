// One HTTP request/response exchange as libcurl's callbacks see it (transfer.cpp sets them):
// the status line and headers of each response (a redirect or a 100 starts a new one), and the
// body of a 2xx into the Sink, gunzipped on the way, within the size limit and the stall timeout.
#pragma once

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <memory>
#include <molt/config.hpp>
#include <molt/fetcher.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "fetchers/gunzip.hpp"
#include "fetchers/http_text.hpp"
#include "fetchers/transfer.hpp"
#include "util/human_bytes.hpp"
#include "util/log.hpp"

namespace molt::internal {

inline bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

inline std::string seconds(Duration d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

// The part of a URL between the authority and the query: what says ".gz".
inline std::string_view url_path(std::string_view url) {
  std::size_t scheme = url.find("://");
  std::size_t start = url.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
  if (start == std::string_view::npos) return {};
  std::string_view path = url.substr(start);
  return path.substr(0, path.find_first_of("?#"));
}

inline bool is_https(std::string_view url) { return istarts_with(url, "https://"); }

inline std::string stalled(const HttpOptions& options) {
  return "stalled: no data for " + seconds(options.stall_timeout) + " (stall_timeout)";
}

// One request/response exchange; the curl callbacks write into it.
class HttpExchange {
 public:
  using Clock = std::chrono::steady_clock;

  HttpExchange(const TransferRequest& request, const HttpOptions& options, Sink& sink)
      : request_(request), options_(options), sink_(sink) {
    gzip_by_name_ = url_path(request.url).ends_with(".gz");
  }

  TransferResult& result() { return result_; }
  const std::string& failure() const { return failure_; }
  std::uint64_t received() const { return received_; }
  std::optional<std::uint64_t> content_length() const { return content_length_; }

  bool on_header(std::string_view line) {
    last_byte_ = Clock::now();
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (istarts_with(line, "HTTP/")) {
      start_response(line);
    } else if (line.empty()) {
      if (!headers_done_ && !end_headers()) return false;
      headers_done_ = true;
    } else if (!headers_done_) {
      header(line);
    }
    return true;
  }

  bool on_body(const char* data, std::size_t size) {
    last_byte_ = Clock::now();
    if (!success()) {
      std::size_t room = kErrorBodyCap - std::min(kErrorBodyCap, result_.error_body.size());
      result_.error_body.append(data, std::min(room, size));
      return true;
    }
    received_ += size;
    if (received_ > options_.max_size) return fail(too_large());
    if (!gunzip_) return deliver(data, size);
    if (gunzip_->write(data, size,
                       [this](const char* d, std::size_t n) { return deliver(d, n); })) {
      return true;
    }
    return failure_.empty() ? fail(gunzip_->error()) : false;
  }

  // curl's own low-speed check averages over a window of about 5 s, so after a burst it notices
  // a stall seconds late (7 s for a 1 s limit, measured); this one counts from the last byte.
  bool on_progress() {
    Clock::time_point now = Clock::now();
    Duration quiet = std::chrono::duration_cast<Duration>(now - last_byte_);
    if (options_.stall_timeout.count() > 0 && quiet >= options_.stall_timeout) {
      return fail(stalled(options_));
    }
    if (now >= next_report_ && headers_done_ && success() && request_.method != "HEAD") {
      report_progress(now);
      next_report_ = now + kReportEvery;
    }
    return true;
  }

  // After curl says the body is complete.
  bool finish() {
    if (success() && gunzip_ && !gunzip_->finish()) return fail(gunzip_->error());
    return true;
  }

 private:
  bool success() const { return result_.status >= 200 && result_.status < 300; }

  // A body that takes a while says how far it got, so a long download is not silence.
  static constexpr std::chrono::seconds kFirstReport{2};
  static constexpr std::chrono::seconds kReportEvery{5};

  void report_progress(Clock::time_point now) const {
    double elapsed = std::chrono::duration<double>(now - body_started_).count();
    std::string of =
        content_length_
            ? " of " + human_bytes(*content_length_) + " (" +
                  std::to_string(received_ * 100 / std::max<std::uint64_t>(1, *content_length_)) +
                  "%)"
            : "";
    logger().info("{}: downloading, {}{} in {:.0f}s, {}/s", redact_url(request_.url),
                  human_bytes(received_), of, elapsed,
                  human_bytes(static_cast<std::uint64_t>(received_ / std::max(elapsed, 0.001))));
  }

  void start_response(std::string_view line) {
    // "HTTP/1.1 503 Service Unavailable", "HTTP/2 200": a new response (a redirect or a 100)
    // replaces whatever the previous one said.
    std::string_view rest = line.substr(std::min(line.size(), line.find(' ')));
    rest = trim_space(rest);
    long status = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), status);
    std::string_view reason =
        ec == std::errc() ? trim_space(std::string_view(end, rest.end() - end)) : "";
    result_ = TransferResult{};
    result_.status = status;
    result_.reason = reason.empty() ? reason_phrase(status) : reason;
    content_length_.reset();
    content_encoding_.clear();
    headers_done_ = false;
  }

  void header(std::string_view line) {
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    std::string_view name = trim_space(line.substr(0, colon));
    std::string value(trim_space(line.substr(colon + 1)));
    if (iequals(name, "ETag")) {
      result_.etag = value;
    } else if (iequals(name, "Last-Modified")) {
      result_.last_modified = value;
    } else if (iequals(name, "Date")) {
      result_.date = value;
    } else if (iequals(name, "Content-Type")) {
      result_.content_type = value;
    } else if (iequals(name, "Content-Encoding")) {
      content_encoding_ = value;
    } else if (iequals(name, "Content-Length")) {
      std::uint64_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec == std::errc() && end == value.data() + value.size()) content_length_ = n;
    }
  }

  // The header block of a response is complete: decide where its body goes.
  bool end_headers() {
    if (!success() || request_.method == "HEAD") return true;
    if (content_length_ && *content_length_ > options_.max_size) return fail(too_large());
    bool gzip_encoded = iequals(content_encoding_, "gzip") || iequals(content_encoding_, "x-gzip");
    if (!content_encoding_.empty() && !gzip_encoded && !iequals(content_encoding_, "identity")) {
      return fail("unsupported Content-Encoding " + content_encoding_);
    }
    gunzip_.reset();
    if (gzip_encoded || gzip_by_name_) gunzip_ = std::make_unique<Gunzip>();
    received_ = 0;
    body_started_ = Clock::now();
    next_report_ = body_started_ + kFirstReport;
    if (!sink_.reset()) return fail(sink_.error());
    return true;
  }

  bool deliver(const char* data, std::size_t size) {
    result_.body_size += size;
    if (result_.body_size > options_.max_size) return fail(too_large());
    if (!sink_.write(data, size)) return fail(sink_.error());
    return true;
  }

  std::string too_large() const {
    return "larger than the " + std::to_string(options_.max_size) + "-byte limit (max_size)";
  }

  bool fail(std::string why) {
    if (failure_.empty()) failure_ = std::move(why);
    return false;
  }

  const TransferRequest& request_;
  const HttpOptions& options_;
  Sink& sink_;
  TransferResult result_;
  Clock::time_point last_byte_ = Clock::now();  // or the start, before any byte
  bool gzip_by_name_ = false;
  bool headers_done_ = false;
  std::optional<std::uint64_t> content_length_;
  std::string content_encoding_;
  std::unique_ptr<Gunzip> gunzip_;
  std::uint64_t received_ = 0;  // body bytes as they came off the wire
  Clock::time_point body_started_ = Clock::now();
  Clock::time_point next_report_ = Clock::time_point::max();
  std::string failure_;  // why a callback stopped the transfer
};

}  // namespace molt::internal
