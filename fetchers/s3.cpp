#include "fetchers/s3.hpp"

#include <utility>

#include "fetchers/http_text.hpp"
#include "fetchers/s3_error.hpp"

namespace molt::internal {
namespace {

// Headers molt sets itself on every signed request: a user's value would break the signature.
bool reserved(std::string_view name) {
  for (std::string_view own : {"host", "authorization", "x-amz-date", "x-amz-content-sha256",
                               "x-amz-security-token", "if-none-match", "if-modified-since"}) {
    if (iequals(name, own)) return true;
  }
  return false;
}

// HttpOptions::headers ("Name: value" lines, "@file" entries) as pairs to sign.
bool signed_headers(const HttpOptions& http, std::vector<s3::Param>& out, std::string& error) {
  std::vector<std::string> lines;
  if (!expand_headers(http.headers, lines, error)) return false;
  for (const std::string& line : lines) {
    std::size_t colon = line.find(':');
    std::string_view name =
        trim_space(std::string_view(line).substr(0, std::min(colon, line.size())));
    if (colon == std::string::npos || name.empty()) {
      error = "an http header for the s3 source is not a \"Name: value\" line";
      return false;
    }
    if (reserved(name)) {
      error = "http header " + std::string(name) + " cannot be set on an s3 source: molt sets it";
      return false;
    }
    out.emplace_back(std::string(name), std::string(trim_space(line.substr(colon + 1))));
  }
  return true;
}

}  // namespace

std::unique_ptr<S3Fetcher> S3Fetcher::make(const std::string& source, const S3Options& s3,
                                           const HttpOptions& http, const s3::Env& env,
                                           std::string& error) {
  std::unique_ptr<S3Fetcher> f(new S3Fetcher());
  std::optional<s3::ObjectName> name = s3::parse_s3_url(source, error);
  std::optional<s3::Settings> settings;
  if (name) settings = s3::resolve_settings(s3, env, error);
  if (!settings) return nullptr;
  f->artifact_ = *name;
  f->signature_ = {name->bucket, name->key + ".minisig"};
  f->settings_ = std::move(*settings);

  std::optional<s3::Endpoint> endpoint = f->settings_.endpoint.empty()
                                             ? s3::aws_endpoint(f->settings_.region, error)
                                             : s3::parse_endpoint(f->settings_.endpoint, error);
  if (!endpoint) return nullptr;
  f->endpoint_ = std::move(*endpoint);
  for (auto [object, target] : {std::pair{&f->artifact_, &f->artifact_target_},
                                std::pair{&f->signature_, &f->signature_target_}}) {
    auto resolved =
        s3::object_target(f->endpoint_, f->settings_.style, object->bucket, object->key, error);
    if (!resolved) return nullptr;
    *target = std::move(*resolved);
  }

  if (!signed_headers(http, f->headers_, error)) return nullptr;
  f->http_ = http;
  f->http_.headers.clear();
  f->http_.max_redirects = 0;
  return f;
}

std::string S3Fetcher::describe() const {
  if (endpoint_.aws) return artifact_.uri();
  return artifact_.uri() + " at " + endpoint_.origin();
}

FetchResult S3Fetcher::poll(const Validator& since, Sink& sink) {
  return fetch(signature_, signature_target_, since, sink);
}

FetchResult S3Fetcher::download(const Validator& since, Sink& sink) {
  return fetch(artifact_, artifact_target_, since, sink);
}

void S3Fetcher::load_ahead() { load_transfer_library(); }

FetchResult S3Fetcher::fetch_patch(const std::string& name, Sink& sink) {
  s3::ObjectName patch{artifact_.bucket, artifact_.key + ".patch/" + name};
  std::string error;
  std::optional<s3::Target> target =
      s3::object_target(endpoint_, settings_.style, patch.bucket, patch.key, error);
  if (!target) return {.status = FetchResult::Status::kFailed, .error = patch.uri() + ": " + error};
  return fetch(patch, *target, {}, sink);
}

TransferRequest S3Fetcher::request(bool signature, const Validator& since,
                                   s3::Clock::time_point now) const {
  return request(signature ? signature_target_ : artifact_target_, since, now);
}

TransferRequest S3Fetcher::request(const s3::Target& target, const Validator& since,
                                   s3::Clock::time_point now) const {
  s3::Request r{"GET", target.host, target.path, {}, headers_};
  // Signed with the rest, so added here rather than by transfer().
  if (auto condition = conditional_header(since)) r.headers.push_back(std::move(*condition));
  if (!settings_.credentials.anonymous()) {
    // A GET has no body: its hash is the empty one, which every S3 implementation accepts.
    s3::add_amz_headers(r, settings_.credentials, now, s3::kEmptyPayloadSha256);
    std::string authorization =
        s3::sign(r, settings_.credentials, settings_.region, "s3", now).authorization;
    r.headers.emplace_back("Authorization", std::move(authorization));
  }
  TransferRequest out;
  out.url = target.url;
  for (const auto& [name, value] : r.headers) out.headers.push_back(name + ": " + value);
  return out;
}

FetchResult S3Fetcher::fetch(const s3::ObjectName& name, const s3::Target& target,
                             const Validator& since, Sink& sink) const {
  const std::string object = name.uri();
  const s3::Clock::time_point now = s3::Clock::now();
  TransferResult response = transfer(request(target, since, now), http_, sink);
  FetchResult result;
  if (!response.ok()) {
    result.error = object + " at " + response.error;
  } else if (response.status == 304) {
    result.status = FetchResult::Status::kNotModified;
    result.validator = since;
  } else if (response.status == 200) {
    result.status = FetchResult::Status::kChanged;
    result.validator = {std::move(response.etag), std::move(response.last_modified)};
  } else {
    s3::Verdict verdict = s3::judge(
        {response.status, response.status_line(), std::move(response.error_body),
         std::move(response.content_type), std::move(response.date)},
        {object, endpoint_.origin(), settings_.region, settings_.credentials_origin, now});
    if (verdict.missing) {
      result.status = FetchResult::Status::kMissing;
    } else {
      result.error = std::move(verdict.error);
    }
  }
  return result;
}

std::unique_ptr<Fetcher> make_s3_fetcher(const Config& config, std::string& error) {
  return S3Fetcher::make(config.source, config.s3, config.http, s3::process_env(), error);
}

}  // namespace molt::internal
