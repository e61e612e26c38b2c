// What the GitHub releases source reads: the github://OWNER/REPO/ASSET name, and a release as the
// REST API describes it (GET /repos/OWNER/REPO/releases/latest), of which molt uses the tag and
// the assets' ids and names. The JSON comes from a server molt does not control: every field is
// checked for its type before it counts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace molt::internal::github {

struct SourceName {
  std::string owner;
  std::string repo;
  std::string asset;  // the artifact's asset name; its signature is asset + ".minisig"

  std::string uri() const { return "github://" + owner + "/" + repo + "/" + asset; }
};

// "github://OWNER/REPO/ASSET". OWNER and REPO go into API paths, so they are held to GitHub's
// own spelling rules; ASSET is only compared with the names a release lists.
std::optional<SourceName> parse_source(std::string_view source, std::string& error);

struct Asset {
  std::uint64_t id = 0;  // the API's asset id: what a download asks for
  std::string name;
  std::uint64_t size = 0;  // 0 when the JSON does not say
  std::string updated_at;  // verbatim; a re-uploaded asset has a new id and a new time
};

struct Release {
  std::string tag;
  std::vector<Asset> assets;

  const Asset* find(std::string_view name) const;
};

// The release in the API's JSON; nullopt and a one-line `error` when it is not one.
std::optional<Release> parse_release(std::string_view json, std::string& error);

// The "message" of an API error body ({"message": "Bad credentials", ...}) on one line and
// shortened, or "" when the body has none: the server's words go into a log line.
std::string error_message(std::string_view body);

}  // namespace molt::internal::github
