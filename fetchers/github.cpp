#include "fetchers/github.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdlib>
#include <string_view>
#include <utility>

#include "util/memory_sink.hpp"

namespace molt::internal {
namespace {

using Status = FetchResult::Status;

constexpr char kDefaultApi[] = "https://api.github.com";
// A release lists every asset with its uploader; a few hundred assets stay far below this.
constexpr std::size_t kMaxReleaseSize = 4 * 1024 * 1024;

// The host of "scheme://host[:port][/path]", port included.
std::string_view authority(std::string_view url) {
  std::size_t start = url.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  std::size_t end = url.find('/', start);
  return url.substr(start, end == std::string_view::npos ? end : end - start);
}

// Whether the host of `authority` ("host", "host:port", "[v6]:port") is a loopback address.
// The whole host is parsed: "127.0.0.1.example.com" is not one.
bool is_loopback(std::string_view authority) {
  std::string host(authority.starts_with("[") ? authority.substr(1, authority.find(']') - 1)
                                              : authority.substr(0, authority.find(':')));
  if (host == "localhost") return true;
  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return ::inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

// Why `url` cannot be the API's base URL, or "".
std::string bad_api_url(std::string_view url, bool with_token) {
  bool https = url.starts_with("https://");
  if (!https && !url.starts_with("http://")) return "must start with https:// or http://";
  std::string_view host = authority(url);
  if (host.empty()) return "names no host";
  if (host.find('@') != std::string_view::npos) return "must not hold credentials";
  if (url.find_first_of("?#") != std::string_view::npos) return "must not hold a query";
  if (with_token && !https && !is_loopback(host)) {
    return "is plain http: GITHUB_TOKEN is sent only over https (or to a loopback address)";
  }
  return {};
}

bool header_safe(std::string_view token) {
  for (char c : token) {
    if (c <= ' ' || c == 0x7f) return false;
  }
  return true;
}

Validator asset_validator(const github::Asset& asset) {
  return {"asset " + std::to_string(asset.id) + " " + asset.updated_at, {}};
}

}  // namespace

std::unique_ptr<GitHubFetcher> GitHubFetcher::make(const std::string& source,
                                                   const GitHubOptions& github,
                                                   const HttpOptions& http, std::string& error) {
  std::unique_ptr<GitHubFetcher> f(new GitHubFetcher());
  std::optional<github::SourceName> name = github::parse_source(source, error);
  if (!name) return nullptr;
  f->name_ = std::move(*name);
  f->api_ = github.api_url.empty() ? kDefaultApi : github.api_url;
  while (f->api_.ends_with('/')) f->api_.pop_back();
  if (!header_safe(github.token)) {
    error = "GITHUB_TOKEN: holds spaces or control characters, which no header can carry";
    return nullptr;
  }
  if (std::string bad = bad_api_url(f->api_, !github.token.empty()); !bad.empty()) {
    error = "--github-api " + redact_url(f->api_) + ": " + bad;
    return nullptr;
  }
  f->token_ = github.token;
  f->http_ = http;
  return f;
}

// The API host is not part of it: check.cpp appends ".minisig" to name the signature, and each
// error line names the API URL it concerns.
std::string GitHubFetcher::describe() const { return name_.uri(); }

FetchResult GitHubFetcher::poll(const Validator& since, Sink& sink) {
  FetchResult release = read_release(since);
  if (release.status != Status::kChanged) return release;
  const github::Asset* asset = release_->find(name_.asset + ".minisig");
  if (!asset) return {.status = Status::kMissing};
  FetchResult got = fetch_asset(*asset, sink);
  // The release stands for its signature: an unchanged release is an unchanged signature.
  if (got.status == Status::kChanged) got.validator = release.validator;
  return got;
}

FetchResult GitHubFetcher::download(const Validator& since, Sink& sink) {
  if (FetchResult release = ensure_release(); release.status != Status::kChanged) return release;
  const github::Asset* asset = release_->find(name_.asset);
  if (!asset) return {.status = Status::kMissing};
  Validator seen = asset_validator(*asset);
  if (!since.empty() && since == seen) return {.status = Status::kNotModified, .validator = since};
  FetchResult got = fetch_asset(*asset, sink);
  if (got.status == Status::kChanged) got.validator = std::move(seen);
  return got;
}

void GitHubFetcher::load_ahead() { load_transfer_library(); }

FetchResult GitHubFetcher::fetch_patch(const std::string& name, Sink& sink) {
  if (FetchResult release = ensure_release(); release.status != Status::kChanged) return release;
  const github::Asset* asset = release_->find(name_.asset + ".patch." + name);
  if (!asset) return {.status = Status::kMissing};
  return fetch_asset(*asset, sink);
}

Fetcher::PollFloor GitHubFetcher::poll_floor() const {
  if (!token_.empty()) return {};  // 5000 an hour, and a 304 is free
  // Two minutes leave room in the hour for a release's downloads and a failure's retries.
  return {std::chrono::minutes(2),
          "without GITHUB_TOKEN every request to the GitHub API, 304s included, counts against "
          "its limit of 60 an hour"};
}

FetchResult GitHubFetcher::ensure_release() {
  if (release_) return {.status = Status::kChanged};
  return read_release({});
}

FetchResult GitHubFetcher::read_release(const Validator& since) {
  TransferRequest request = api_request("/releases/latest", "application/vnd.github+json");
  request.since = since;
  MemorySink json(kMaxReleaseSize, "the release");
  TransferResult response = transfer(request, http_, json);
  FetchResult result;
  if (!response.ok()) {
    result.error = name_.uri() + ": " + response.error;
  } else if (response.status == 304) {
    result.status = Status::kNotModified;
    result.validator = since;
  } else if (response.status == 200) {
    std::string error;
    std::optional<github::Release> release = github::parse_release(json.bytes(), error);
    if (!release) {
      result.error = name_.uri() + ": " + redact_url(request.url) + ": " + error;
    } else {
      release_ = std::move(release);
      result.status = Status::kChanged;
      result.validator = {std::move(response.etag), std::move(response.last_modified)};
    }
  } else {
    result.error = api_error(request.url, response);
  }
  return result;
}

FetchResult GitHubFetcher::fetch_asset(const github::Asset& asset, Sink& sink) const {
  TransferRequest request =
      api_request("/releases/assets/" + std::to_string(asset.id), "application/octet-stream");
  TransferResult response = transfer(request, http_, sink);
  FetchResult result;
  if (!response.ok()) {
    result.error = name_.uri() + ": asset " + asset.name + ": " + response.error;
  } else if (response.status == 200) {
    result.status = Status::kChanged;
  } else if (response.status == 404) {
    result.status = Status::kMissing;  // deleted since the release was read
  } else {
    result.error = api_error(request.url, response);
  }
  return result;
}

TransferRequest GitHubFetcher::api_request(const std::string& path, const char* accept) const {
  TransferRequest request;
  request.url = api_ + "/repos/" + name_.owner + "/" + name_.repo + path;
  request.headers = {std::string("Accept: ") + accept, "X-GitHub-Api-Version: 2022-11-28"};
  if (!token_.empty()) request.headers.push_back("Authorization: Bearer " + token_);
  return request;
}

std::string GitHubFetcher::api_error(const std::string& url, const TransferResult& response) const {
  // The URL names the API host: the source is said without it.
  std::string line = name_.uri() + ": " + redact_url(url) + ": " + response.status_line();
  if (std::string message = github::error_message(response.error_body); !message.empty()) {
    line += ": " + message;
  }
  if (response.status == 401) {
    line += " (GITHUB_TOKEN is refused)";
  } else if (response.status == 404) {
    line += token_.empty() ? " (no release yet, or a private repository: set GITHUB_TOKEN)"
                           : " (no release yet, or GITHUB_TOKEN cannot read the repository)";
  }
  return line;
}

std::unique_ptr<Fetcher> make_github_fetcher(const Config& config, std::string& error) {
  GitHubOptions github = config.github;
  if (github.token.empty()) {
    if (const char* token = std::getenv("GITHUB_TOKEN")) github.token = token;
  }
  return GitHubFetcher::make(config.source, github, config.http, error);
}

}  // namespace molt::internal
