// What the GitHub source reads from a server it does not control: github:// names, and release
// JSON, well formed or not.
#include "fetchers/github_release.hpp"

#include <gtest/gtest.h>

namespace molt::internal::github {
namespace {

std::string source_error(std::string_view source) {
  std::string error;
  EXPECT_FALSE(parse_source(source, error)) << source;
  return error;
}

std::string release_error(std::string_view json) {
  std::string error;
  EXPECT_FALSE(parse_release(json, error)) << json;
  return error;
}

TEST(GitHubSourceName, OwnerRepoAndAsset) {
  std::string error;
  auto name = parse_source("github://acme-corp/hello.cpp/app-linux-amd64.tar", error);
  ASSERT_TRUE(name) << error;
  EXPECT_EQ(name->owner, "acme-corp");
  EXPECT_EQ(name->repo, "hello.cpp");
  EXPECT_EQ(name->asset, "app-linux-amd64.tar");
  EXPECT_EQ(name->uri(), "github://acme-corp/hello.cpp/app-linux-amd64.tar");
}

TEST(GitHubSourceName, RefusedWithTheReason) {
  EXPECT_EQ(source_error("github://acme/hello"),
            "source \"github://acme/hello\": expected github://OWNER/REPO/ASSET");
  EXPECT_EQ(source_error("github:/"), "source \"github:/\": expected github://OWNER/REPO/ASSET");
  EXPECT_NE(source_error("github:///hello/app").find("\"\" is not a GitHub owner"),
            std::string::npos);
  EXPECT_NE(source_error("github://-acme/hello/app").find("is not a GitHub owner"),
            std::string::npos);
  EXPECT_NE(source_error("github://ac%2fme/hello/app").find("is not a GitHub owner"),
            std::string::npos);
  // Owner and repository go into API paths: nothing that could climb out of them.
  EXPECT_NE(source_error("github://acme/../app").find("\"..\" is not a GitHub repository"),
            std::string::npos);
  EXPECT_NE(source_error("github://acme/he?llo/app").find("is not a GitHub repository"),
            std::string::npos);
  EXPECT_NE(source_error("github://acme/hello/dir/app").find("no '/'"), std::string::npos);
  EXPECT_NE(source_error("github://acme/hello/").find("1-255 characters"), std::string::npos);
  EXPECT_NE(source_error(std::string("github://acme/hello/a\nb")).find("control characters"),
            std::string::npos);
}

TEST(GitHubRelease, TagAndAssets) {
  std::string error;
  auto release = parse_release(R"({"tag_name": "v1.2.0", "author": {"login": "x"},
    "assets": [{"id": 101, "name": "app", "size": 2048, "updated_at": "2026-12-04T10:00:00Z",
                "url": "https://elsewhere.example/steal", "uploader": {"id": 7}},
               {"id": 102, "name": "app.minisig"}]})",
                               error);
  ASSERT_TRUE(release) << error;
  EXPECT_EQ(release->tag, "v1.2.0");
  ASSERT_EQ(release->assets.size(), 2u);
  const Asset* app = release->find("app");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->id, 101u);
  EXPECT_EQ(app->size, 2048u);
  EXPECT_EQ(app->updated_at, "2026-12-04T10:00:00Z");
  EXPECT_EQ(release->find("app.minisig")->id, 102u);
  EXPECT_EQ(release->find("app.patch.v1"), nullptr);
}

TEST(GitHubRelease, NoAssetsIsAReleaseWithoutAny) {
  std::string error;
  auto release = parse_release(R"({"tag_name": "v0", "assets": []})", error);
  ASSERT_TRUE(release) << error;
  EXPECT_TRUE(release->assets.empty());
}

TEST(GitHubRelease, WhatIsNotOneIsRefusedWithTheReason) {
  EXPECT_EQ(release_error(""), "the release is not valid JSON");
  EXPECT_EQ(release_error(R"({"assets": [)"), "the release is not valid JSON");
  EXPECT_EQ(release_error("[]"), "the release is not a JSON object");
  EXPECT_EQ(release_error(R"({"tag_name": "v1"})"), "the release has no \"assets\" array");
  EXPECT_EQ(release_error(R"({"assets": {"id": 1}})"), "the release has no \"assets\" array");
  EXPECT_EQ(release_error(R"({"assets": [7]})"), "the release's asset 1 is not a JSON object");
  EXPECT_EQ(release_error(R"({"assets": [{"id": 1, "name": "a"}, {"id": "2", "name": "b"}]})"),
            "the release's asset 2 has no positive integer \"id\"");
  EXPECT_EQ(release_error(R"({"assets": [{"id": -3, "name": "a"}]})"),
            "the release's asset 1 has no positive integer \"id\"");
  EXPECT_EQ(release_error(R"({"assets": [{"id": 0, "name": "a"}]})"),
            "the release's asset 1 has no positive integer \"id\"");
  EXPECT_EQ(release_error(R"({"assets": [{"id": 1.5, "name": "a"}]})"),
            "the release's asset 1 has no positive integer \"id\"");
  EXPECT_EQ(release_error(R"({"assets": [{"id": 1, "name": null}]})"),
            "the release's asset 1 has no string \"name\"");
}

TEST(GitHubRelease, ErrorMessageIsOneShortLine) {
  EXPECT_EQ(error_message(R"({"message": "Bad credentials", "documentation_url": "x"})"),
            "Bad credentials");
  EXPECT_EQ(error_message(R"({"message": "two\nlines\r"})"), "two lines ");
  EXPECT_EQ(error_message(std::string(R"({"message": ")") + std::string(300, 'x') + "\"}"),
            std::string(200, 'x') + "...");
  EXPECT_EQ(error_message("<html>rate limited</html>"), "");
  EXPECT_EQ(error_message(R"({"message": 42})"), "");
}

}  // namespace
}  // namespace molt::internal::github
