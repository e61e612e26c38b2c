// Where the s3 fetcher's credentials, region and endpoint come from: molt::S3Options first, then
// the places every AWS tool reads, in the AWS CLI's order.
//
//   profile      S3Options::profile, AWS_PROFILE, AWS_DEFAULT_PROFILE, "default"
//   credentials  S3Options keys; AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN),
//                skipped when S3Options::profile names a profile; the profile's keys in the
//                credentials file ([name]), then in the config file ([profile name], [default])
//   region       S3Options, AWS_REGION, AWS_DEFAULT_REGION, the profile's region, "us-east-1"
//   endpoint     S3Options, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's [services]
//                s3 endpoint_url, its endpoint_url; all but S3Options off when
//                AWS_IGNORE_CONFIGURED_ENDPOINT_URLS (or ignore_configured_endpoint_urls) is true
//   style        S3Options::style, else the profile's "s3 = / addressing_style"
//   files        AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, else $HOME/.aws/{credentials,config}
//
// S3Options::anonymous reads no credentials at all: requests go unsigned, as with the AWS CLI's
// --no-sign-request. Roles, SSO, credential_process and instance metadata are not supported: a
// profile that relies on them gets an error saying so.
#pragma once

#include <functional>
#include <molt/config.hpp>
#include <optional>
#include <string>

#include "fetchers/sigv4.hpp"

namespace molt::internal::s3 {

// Looks an environment variable up; nullopt when unset. Tests give a map instead of getenv.
using Env = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment; HOME falls back to the password database when unset.
Env process_env();

struct Settings {
  Credentials credentials;  // no access key: anonymous, requests go unsigned
  std::string region;       // never empty
  std::string endpoint;     // custom endpoint URL; empty: AWS
  S3Options::Style style = S3Options::Style::kAuto;
  // Where the keys came from, for error lines ("the environment", "profile 'ci' in
  // /home/u/.aws/credentials"). Never a key.
  std::string credentials_origin;
};

// Resolves every setting, or returns nullopt with one line in `error` naming the setting and the
// cause (never a secret).
std::optional<Settings> resolve_settings(const S3Options& options, const Env& env,
                                         std::string& error);

}  // namespace molt::internal::s3
