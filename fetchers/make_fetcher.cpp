#include "fetchers/make_fetcher.hpp"

#include "fetchers/file.hpp"
#include "fetchers/github.hpp"
#include "fetchers/http.hpp"
#include "fetchers/s3.hpp"

namespace molt::internal {

std::unique_ptr<Fetcher> make_fetcher(const Config& config, std::string& error) {
  const std::string& source = config.source;
  if (source.starts_with("http://") || source.starts_with("https://")) {
    return make_http_fetcher(source, config.http);
  }
  if (source.starts_with("s3://")) return make_s3_fetcher(config, error);
  if (source.starts_with("github://")) return make_github_fetcher(config, error);
  if (source.find("://") != std::string::npos) {
    error = "source \"" + source +
            "\": unsupported scheme (use a file path, http(s)://, s3:// or github://)";
    return nullptr;
  }
  if (source.empty() || source.back() == '/') {
    error = "source \"" + source + "\": must name a file, not a folder";
    return nullptr;
  }
  return std::make_unique<FileFetcher>(source, config.http.total_timeout);
}

}  // namespace molt::internal
