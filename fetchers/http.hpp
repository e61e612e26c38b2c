// The source at an http:// or https:// URL: the artifact at the URL, its signature at the URL
// plus ".minisig" (before any query). Unchanged objects cost a conditional GET answered by 304.
#pragma once

#include <memory>
#include <molt/config.hpp>
#include <molt/fetcher.hpp>
#include <string>

namespace molt::internal {

class HttpFetcher final : public Fetcher {
 public:
  HttpFetcher(std::string url, HttpOptions options);

  std::string describe() const override;
  FetchResult poll(const Validator& since, Sink& sink) override;
  FetchResult download(const Validator& since, Sink& sink) override;
  FetchResult fetch_patch(const std::string& name, Sink& sink) override;
  void load_ahead() override;

 private:
  FetchResult fetch(const std::string& url, const Validator& since, Sink& sink) const;

  std::string url_;
  std::string signature_url_;
  HttpOptions options_;
};

std::unique_ptr<Fetcher> make_http_fetcher(const std::string& url, const HttpOptions& options);

}  // namespace molt::internal
