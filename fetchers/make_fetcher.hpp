// Picks the fetcher for a source by its form: http(s)://, s3://, or a file path.
#pragma once

#include <memory>
#include <molt/config.hpp>
#include <molt/fetcher.hpp>
#include <string>

namespace molt::internal {

// Returns nullptr and sets `error` for a source molt cannot use.
std::unique_ptr<Fetcher> make_fetcher(const Config& config, std::string& error);

}  // namespace molt::internal
