// The source at s3://bucket/key: the artifact is that object, its signature the object at
// key + ".minisig". Each request is a GET signed with SigV4 (sigv4.hpp) using the credentials,
// region and endpoint that aws_config.hpp resolves, and goes through the same libcurl transfer as
// the http source (transfer.hpp). S3's refusals become one line each (s3_error.hpp).
//
// Every header is signed, the conditional ones and HttpOptions::headers included, so nothing a
// proxy could change goes unnoticed. Redirects are not followed: S3 redirects to another region's
// host, where the signature cannot hold; the error line names the region to set instead.
#pragma once

#include <memory>
#include <molt/config.hpp>
#include <molt/fetcher.hpp>
#include <string>
#include <vector>

#include "fetchers/aws_config.hpp"
#include "fetchers/s3_url.hpp"
#include "fetchers/sigv4.hpp"
#include "fetchers/transfer.hpp"

namespace molt::internal {

class S3Fetcher final : public Fetcher {
 public:
  // Resolves the settings, the endpoint and both URLs now, so that a bad source fails at startup
  // rather than at the first poll. Returns nullptr and sets `error` (one line) when it cannot.
  static std::unique_ptr<S3Fetcher> make(const std::string& source, const S3Options& s3,
                                         const HttpOptions& http, const s3::Env& env,
                                         std::string& error);

  std::string describe() const override;
  FetchResult poll(const Validator& since, Sink& sink) override;
  FetchResult download(const Validator& since, Sink& sink) override;
  FetchResult fetch_patch(const std::string& name, Sink& sink) override;
  void load_ahead() override;

  // The signed request for the artifact (or, with `signature`, its .minisig) at `now`.
  TransferRequest request(bool signature, const Validator& since, s3::Clock::time_point now) const;

  const s3::Settings& settings() const { return settings_; }

 private:
  S3Fetcher() = default;
  TransferRequest request(const s3::Target& target, const Validator& since,
                          s3::Clock::time_point now) const;
  FetchResult fetch(const s3::ObjectName& object, const s3::Target& target, const Validator& since,
                    Sink& sink) const;

  s3::ObjectName artifact_;
  s3::ObjectName signature_;
  s3::Target artifact_target_;
  s3::Target signature_target_;
  s3::Endpoint endpoint_;
  s3::Settings settings_;
  std::vector<s3::Param> headers_;  // HttpOptions::headers, signed with the rest
  HttpOptions http_;                // without those headers, and with redirects off
};

// make() with config.source, config.s3, config.http and the process environment.
std::unique_ptr<Fetcher> make_s3_fetcher(const Config& config, std::string& error);

}  // namespace molt::internal
