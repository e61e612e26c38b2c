// Exponential backoff: restarting a child that keeps exiting, downloading again an artifact that
// did not match its signature.
#pragma once

#include <chrono>

namespace molt::internal {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max), next_(initial) {}
  // The delay to wait now; each call doubles the next one, up to the maximum.
  std::chrono::milliseconds next() {
    std::chrono::milliseconds delay = next_;
    next_ = std::min(next_ * 2, max_);
    return delay;
  }
  void reset() { next_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds next_;
};

}  // namespace molt::internal
