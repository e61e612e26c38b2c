// The source at github://OWNER/REPO/ASSET: the asset ASSET of the repository's latest release
// (GitHub's "latest": the newest release that is neither a draft nor a prerelease), its signature
// the asset ASSET.minisig, a delta patch the asset ASSET.patch.NAME.
//
// A poll is a conditional GET of the release (If-None-Match with its ETag): an unchanged release
// costs a 304, which GitHub does not count against the rate limit. When it changed, the
// signature asset is downloaded. Assets are asked of the API by id (never by a URL the JSON
// names) with Accept: application/octet-stream; the API redirects to a storage host.
//
// The token goes to the API's origin only: transfer() gives a redirect's target no header of the
// request's own. Over plain http it is refused except to a loopback address.
#pragma once

#include <memory>
#include <molt/config.hpp>
#include <molt/fetcher.hpp>
#include <optional>
#include <string>

#include "fetchers/github_release.hpp"
#include "fetchers/transfer.hpp"

namespace molt::internal {

class GitHubFetcher final : public Fetcher {
 public:
  // Checks the source name and the API URL now, so a bad one fails at startup. `token`: as
  // GitHubOptions says, the environment's GITHUB_TOKEN already applied.
  static std::unique_ptr<GitHubFetcher> make(const std::string& source, const GitHubOptions& github,
                                             const HttpOptions& http, std::string& error);

  std::string describe() const override;
  FetchResult poll(const Validator& since, Sink& sink) override;
  FetchResult download(const Validator& since, Sink& sink) override;
  FetchResult fetch_patch(const std::string& name, Sink& sink) override;
  void load_ahead() override;
  PollFloor poll_floor() const override;

 private:
  GitHubFetcher() = default;

  // Reads the latest release into release_ unless it still matches `since`.
  FetchResult read_release(const Validator& since);
  // The release this check read (each check runs in a fresh helper process), else reads it.
  FetchResult ensure_release();
  FetchResult fetch_asset(const github::Asset& asset, Sink& sink) const;
  // A request for `path` under /repos/OWNER/REPO.
  TransferRequest api_request(const std::string& path, const char* accept) const;
  std::string api_error(const std::string& url, const TransferResult& response) const;

  github::SourceName name_;
  std::string api_;  // without a trailing '/'
  std::string token_;
  HttpOptions http_;
  std::optional<github::Release> release_;
};

std::unique_ptr<Fetcher> make_github_fetcher(const Config& config, std::string& error);

}  // namespace molt::internal
