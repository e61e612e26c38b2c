#include "make_fetcher.hpp"

#include "file.hpp"

namespace molt {

std::unique_ptr<Fetcher> make_fetcher(const Config& config, std::string& error) {
  const std::string& source = config.source;
  if (source.find("://") != std::string::npos) {
    error = "source \"" + source + "\": unsupported scheme (use a file path)";
    return nullptr;
  }
  if (source.empty() || source.back() == '/') {
    error = "source \"" + source + "\": must name a file, not a folder";
    return nullptr;
  }
  return std::make_unique<FileFetcher>(source);
}

}  // namespace molt
