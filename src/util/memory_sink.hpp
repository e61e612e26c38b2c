// A Sink that keeps a small object in memory, up to a limit: a signature, a GitHub release's
// JSON. Past the limit the transfer stops; error() names the object and the limit.
#pragma once

#include <cstddef>
#include <molt/fetcher.hpp>
#include <string>
#include <utility>

namespace molt::internal {

class MemorySink final : public Sink {
 public:
  MemorySink(std::size_t limit, std::string what) : limit_(limit), what_(std::move(what)) {}

  bool write(const char* data, std::size_t size) override {
    if (bytes_.size() + size > limit_) return false;
    bytes_.append(data, size);
    return true;
  }
  bool reset() override {
    bytes_.clear();
    return true;
  }
  std::string error() const override {
    return what_ + " larger than " + std::to_string(limit_) + " bytes";
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::size_t limit_;
  std::string what_;
  std::string bytes_;
};

}  // namespace molt::internal
