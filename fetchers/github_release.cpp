#include "fetchers/github_release.hpp"

#include <cctype>
#include <nlohmann/json.hpp>

#include "fetchers/http_text.hpp"

namespace molt::internal::github {
namespace {

using Json = nlohmann::json;

// GitHub's rules: an owner is 1-39 letters, digits or inner hyphens; a repository name 1-100
// letters, digits, '.', '-' or '_', and not "." or "..".
bool valid_owner(std::string_view s) {
  if (s.empty() || s.size() > 39 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

bool valid_repo(std::string_view s) {
  if (s.empty() || s.size() > 100 || s == "." || s == "..") return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
      return false;
    }
  }
  return true;
}

bool valid_asset(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  for (char c : s) {
    if (c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

std::optional<SourceName> parse_source(std::string_view source, std::string& error) {
  constexpr std::string_view kScheme = "github://";
  const std::string quoted = "source \"" + server_text(source, 200) + "\": ";
  std::string_view rest = source.starts_with(kScheme) ? source.substr(kScheme.size()) : "";
  std::size_t first = rest.find('/');
  std::size_t second = first == std::string_view::npos ? first : rest.find('/', first + 1);
  if (second == std::string_view::npos) {
    error = quoted + "expected github://OWNER/REPO/ASSET";
    return std::nullopt;
  }
  SourceName name{std::string(rest.substr(0, first)),
                  std::string(rest.substr(first + 1, second - first - 1)),
                  std::string(rest.substr(second + 1))};
  if (!valid_owner(name.owner)) {
    error = quoted + "\"" + name.owner + "\" is not a GitHub owner (letters, digits, '-')";
  } else if (!valid_repo(name.repo)) {
    error = quoted + "\"" + name.repo +
            "\" is not a GitHub repository name (letters, digits, '.', '-', '_')";
  } else if (!valid_asset(name.asset)) {
    error = quoted + "the asset name must be 1-255 characters, no '/' nor control characters";
  } else {
    return name;
  }
  return std::nullopt;
}

const Asset* Release::find(std::string_view name) const {
  for (const Asset& asset : assets) {
    if (asset.name == name) return &asset;
  }
  return nullptr;
}

std::optional<Release> parse_release(std::string_view json, std::string& error) {
  Json doc = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    error = "the release is not valid JSON";
    return std::nullopt;
  }
  if (!doc.is_object()) {
    error = "the release is not a JSON object";
    return std::nullopt;
  }
  Release release;
  if (auto tag = doc.find("tag_name"); tag != doc.end() && tag->is_string()) {
    release.tag = server_text(tag->get<std::string>(), 100);
  }
  auto assets = doc.find("assets");
  if (assets == doc.end() || !assets->is_array()) {
    error = "the release has no \"assets\" array";
    return std::nullopt;
  }
  for (std::size_t i = 0; i < assets->size(); ++i) {
    const Json& item = (*assets)[i];
    const std::string where = "the release's asset " + std::to_string(i + 1);
    if (!item.is_object()) {
      error = where + " is not a JSON object";
      return std::nullopt;
    }
    auto id = item.find("id");
    auto name = item.find("name");
    if (id == item.end() || !id->is_number_unsigned() || id->get<std::uint64_t>() == 0) {
      error = where + " has no positive integer \"id\"";
      return std::nullopt;
    }
    if (name == item.end() || !name->is_string()) {
      error = where + " has no string \"name\"";
      return std::nullopt;
    }
    Asset asset{id->get<std::uint64_t>(), name->get<std::string>(), 0, {}};
    if (auto size = item.find("size"); size != item.end() && size->is_number_unsigned()) {
      asset.size = size->get<std::uint64_t>();
    }
    if (auto at = item.find("updated_at"); at != item.end() && at->is_string()) {
      asset.updated_at = server_text(at->get<std::string>(), 64);
    }
    release.assets.push_back(std::move(asset));
  }
  return release;
}

std::string error_message(std::string_view body) {
  Json doc = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return {};
  auto message = doc.find("message");
  if (message == doc.end() || !message->is_string()) return {};
  return server_text(message->get<std::string>(), 200);
}

}  // namespace molt::internal::github
