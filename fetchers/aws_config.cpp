#include "fetchers/aws_config.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "fetchers/aws_ini.hpp"

namespace molt::internal::s3 {
namespace {

// A profile as botocore sees it: its section in each file, credentials file over config file.
struct Profile {
  std::string name;
  bool named = false;  // chosen by S3Options or the environment rather than by default
  std::string credentials_path;
  std::string config_path;
  IniFile config_file;  // kept whole for [services ...] sections
  IniSection in_credentials;
  IniSection in_config;
  bool found = false;

  std::string get(const std::string& key) const {
    for (const IniSection* section : {&in_credentials, &in_config}) {
      auto it = section->find(key);
      if (it != section->end() && !it->second.empty()) return it->second;
    }
    return {};
  }
};

std::string env_value(const Env& env, const std::string& name) {
  std::optional<std::string> value = env(name);
  return value ? *value : std::string();  // empty counts as unset, as in the AWS tools
}

std::string lowercase(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

// Words as a shell splits them (botocore uses shlex): quotes group, and are dropped.
std::vector<std::string> shell_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (char c : text) {
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else {
        word += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

// The profile a config-file section holds: "default" or "profile <name>"; empty for others.
std::string config_profile_name(const std::string& section) {
  if (section == "default") return section;
  std::vector<std::string> words = shell_words(section);
  return words.size() == 2 && words[0] == "profile" ? words[1] : std::string();
}

std::string file_path(const Env& env, const char* variable, const char* file) {
  std::string path = env_value(env, variable);
  std::string home = env_value(env, "HOME");
  if (path.empty()) return home.empty() ? std::string() : home + "/.aws/" + file;
  if (!home.empty() && (path == "~" || path.starts_with("~/"))) path = home + path.substr(1);
  return path;
}

std::optional<Profile> load_profile(const S3Options& options, const Env& env, std::string& error) {
  Profile p;
  p.name = options.profile;
  for (const char* variable : {"AWS_PROFILE", "AWS_DEFAULT_PROFILE"}) {
    if (p.name.empty()) p.name = env_value(env, variable);
  }
  p.named = !p.name.empty();
  if (!p.named) p.name = "default";

  p.credentials_path = file_path(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
  p.config_path = file_path(env, "AWS_CONFIG_FILE", "config");
  IniFile credentials_file;
  if (!p.credentials_path.empty()) {
    auto read = read_ini(p.credentials_path, error);
    if (!read) return std::nullopt;
    credentials_file = std::move(*read);
  }
  if (!p.config_path.empty()) {
    auto read = read_ini(p.config_path, error);
    if (!read) return std::nullopt;
    p.config_file = std::move(*read);
  }

  if (auto it = credentials_file.find(p.name); it != credentials_file.end()) {
    p.in_credentials = it->second;
    p.found = true;
  }
  for (const auto& [section, values] : p.config_file) {
    if (config_profile_name(section) != p.name) continue;
    for (const auto& [key, value] : values) p.in_config[key] = value;
    p.found = true;
  }
  if (p.named && !p.found && p.name != "default") {
    error = "AWS profile '" + p.name + "' is in neither " + p.credentials_path + " nor " +
            p.config_path;
    return std::nullopt;
  }
  return p;
}

enum class Found { kNone, kKeys, kError };

// Takes one source's keys. A half pair is an error, as in every AWS tool.
Found take_keys(Credentials keys, const std::string& origin, const std::string& id_name,
                const std::string& secret_name, Settings& out, std::string& error) {
  bool has_id = !keys.access_key_id.empty();
  bool has_secret = !keys.secret_access_key.empty();
  if (!has_id && !has_secret) return Found::kNone;
  if (!has_id || !has_secret) {
    error = origin + ": " +
            (has_id ? id_name + " without " + secret_name : secret_name + " without " + id_name);
    return Found::kError;
  }
  out.credentials = std::move(keys);
  out.credentials_origin = origin;
  return Found::kKeys;
}

Credentials environment_keys(const Env& env) {
  Credentials keys{env_value(env, "AWS_ACCESS_KEY_ID"), env_value(env, "AWS_SECRET_ACCESS_KEY"),
                   env_value(env, "AWS_SESSION_TOKEN")};
  if (keys.session_token.empty()) keys.session_token = env_value(env, "AWS_SECURITY_TOKEN");
  return keys;
}

Credentials section_keys(const IniSection& section) {
  auto get = [&](const char* key) {
    auto it = section.find(key);
    return it == section.end() ? std::string() : it->second;
  };
  Credentials keys{get("aws_access_key_id"), get("aws_secret_access_key"),
                   get("aws_session_token")};
  if (keys.session_token.empty()) keys.session_token = get("aws_security_token");
  return keys;
}

// A credential source AWS tools know and molt does not fetch from; empty when none.
std::string unsupported_source(const Profile& p) {
  for (const char* key : {"role_arn", "web_identity_token_file", "sso_start_url", "sso_session",
                          "credential_process"}) {
    if (!p.get(key).empty()) return key;
  }
  return {};
}

std::string no_credentials(const Profile& p, const Env& env, const std::string& source) {
  std::string error;
  if (!source.empty()) {
    error = "AWS profile '" + p.name + "' gets credentials through " + source +
            ", which molt does not support";
  } else {
    error =
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, add keys to "
        "profile '" +
        p.name + "' in " +
        (p.credentials_path.empty() ? std::string("~/.aws/credentials") : p.credentials_path) +
        ", or make the source anonymous if the bucket is public";
  }
  for (const char* variable :
       {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE"}) {
    if (!env_value(env, variable).empty()) {
      return error + " (" + variable + " is set: molt does not fetch such credentials)";
    }
  }
  return error;
}

bool resolve_credentials(const S3Options& options, const Env& env, const Profile& p, Settings& out,
                         std::string& error) {
  Found found = take_keys({options.access_key_id, options.secret_access_key, options.session_token},
                          "the S3 options", "access_key_id", "secret_access_key", out, error);
  // A profile named in S3Options beats the environment's keys, as in botocore.
  if (found == Found::kNone && options.profile.empty()) {
    found = take_keys(environment_keys(env), "the environment", "AWS_ACCESS_KEY_ID",
                      "AWS_SECRET_ACCESS_KEY", out, error);
  }
  if (found != Found::kNone) return found == Found::kKeys;

  const std::string source = unsupported_source(p);
  if (!source.empty() && source != "credential_process") {
    // AWS tools would prefer it to any key in the profile: using the keys would surprise.
    error = no_credentials(p, env, source) +
            ": give keys in the environment, the credentials file or the S3 options";
    return false;
  }
  for (const auto& [section, path] : {std::pair{&p.in_credentials, &p.credentials_path},
                                      std::pair{&p.in_config, &p.config_path}}) {
    found = take_keys(section_keys(*section), "AWS profile '" + p.name + "' in " + *path,
                      "aws_access_key_id", "aws_secret_access_key", out, error);
    if (found != Found::kNone) return found == Found::kKeys;
  }
  error = no_credentials(p, env, source);
  return false;
}

bool is_true(const std::string& value) { return lowercase(value) == "true"; }

std::string resolve_endpoint(const S3Options& options, const Env& env, const Profile& p) {
  if (!options.endpoint.empty()) return options.endpoint;
  std::string ignore = env_value(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
  if (ignore.empty()) ignore = p.get("ignore_configured_endpoint_urls");
  if (is_true(ignore)) return {};

  for (const char* variable : {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"}) {
    if (std::string url = env_value(env, variable); !url.empty()) return url;
  }
  if (std::string services = p.get("services"); !services.empty()) {
    auto it = p.config_file.find("services " + services);
    if (it != p.config_file.end()) {
      auto url = it->second.find("s3.endpoint_url");
      if (url != it->second.end() && !url->second.empty()) return url->second;
    }
  }
  return p.get("endpoint_url");
}

bool resolve_style(const S3Options& options, const Profile& p, Settings& out, std::string& error) {
  out.style = options.style;
  if (options.style != S3Options::Style::kAuto) return true;
  std::string style = lowercase(p.get("s3.addressing_style"));
  if (style == "path") {
    out.style = S3Options::Style::kPath;
  } else if (style == "virtual") {
    out.style = S3Options::Style::kVirtualHosted;
  } else if (!style.empty() && style != "auto") {
    error = "AWS profile '" + p.name + "' in " + p.config_path +
            ": s3 addressing_style must be auto, virtual or path";
    return false;
  }
  return true;
}

}  // namespace

Env process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* value = std::getenv(name.c_str())) return std::string(value);
    if (name != "HOME") return std::nullopt;
    // A service started without HOME still has a home directory.
    std::vector<char> buffer(16384);
    passwd entry{};
    passwd* found = nullptr;
    if (getpwuid_r(getuid(), &entry, buffer.data(), buffer.size(), &found) == 0 && found &&
        found->pw_dir) {
      return std::string(found->pw_dir);
    }
    return std::nullopt;
  };
}

std::optional<Settings> resolve_settings(const S3Options& options, const Env& env,
                                         std::string& error) {
  if (options.anonymous && !options.access_key_id.empty()) {
    error = "S3 options are both anonymous and given an access_key_id";
    return std::nullopt;
  }
  std::optional<Profile> profile = load_profile(options, env, error);
  if (!profile) return std::nullopt;

  Settings out;
  if (options.anonymous) {
    out.credentials_origin = "anonymous";
  } else if (!resolve_credentials(options, env, *profile, out, error)) {
    return std::nullopt;
  }

  out.region = options.region;
  for (const char* variable : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    if (out.region.empty()) out.region = env_value(env, variable);
  }
  if (out.region.empty()) out.region = profile->get("region");
  if (out.region.empty()) out.region = "us-east-1";  // S3's own default (the global endpoint)

  out.endpoint = resolve_endpoint(options, env, *profile);
  if (!resolve_style(options, *profile, out, error)) return std::nullopt;
  return out;
}

}  // namespace molt::internal::s3
