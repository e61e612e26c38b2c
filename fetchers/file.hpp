// The file source: a path on this machine, watched with inotify, with the interval poll as a
// fallback (a folder that does not exist yet, a network filesystem that sends no events).
#pragma once

#include <memory>
#include <molt/config.hpp>
#include <molt/fetcher.hpp>
#include <string>

#include "util/fd.hpp"

namespace molt::internal {

class FileFetcher final : public Fetcher {
 public:
  // `read_timeout` bounds the reading of one file (a hung network filesystem). Only regular
  // files are read: anything else at the path is one error line.
  explicit FileFetcher(std::string path, Duration read_timeout = Duration{600'000});

  std::string describe() const override { return path_; }
  FetchResult poll(const Validator& since, Sink& sink) override;
  FetchResult download(const Validator& since, Sink& sink) override;
  FetchResult fetch_patch(const std::string& name, Sink& sink) override;
  int watch_fd() const override { return inotify_fd_.get(); }
  bool exact_validators() const override { return true; }
  WatchEvent read_watch() override;

 private:
  FetchResult fetch(const std::string& path, const Validator& since, Sink& sink);

  std::string path_;
  std::string signature_path_;
  std::string base_;
  Duration read_timeout_;
  Fd inotify_fd_;
};

}  // namespace molt::internal
