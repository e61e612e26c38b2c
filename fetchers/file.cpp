#include "fetchers/file.hpp"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "util/fd.hpp"
#include "util/small_file.hpp"

namespace molt::internal {
namespace {

std::string validator_of(const struct stat& st) {
  return std::to_string(st.st_ino) + "-" + std::to_string(st.st_size) + "-" +
         std::to_string(st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec);
}

}  // namespace

FileFetcher::FileFetcher(std::string path, Duration read_timeout)
    : path_(std::move(path)), signature_path_(path_ + ".minisig"), read_timeout_(read_timeout) {
  std::size_t slash = path_.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path_.substr(0, slash));
  base_ = slash == std::string::npos ? path_ : path_.substr(slash + 1);
  inotify_fd_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (inotify_fd_ &&
      ::inotify_add_watch(inotify_fd_.get(), dir.c_str(),
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY | IN_ATTRIB) < 0) {
    inotify_fd_.reset();  // no folder yet: the interval poll covers it
  }
}

Fetcher::WatchEvent FileFetcher::read_watch() {
  WatchEvent event;
  alignas(inotify_event) char buffer[4096];
  for (;;) {
    ssize_t n = ::read(inotify_fd_.get(), buffer, sizeof buffer);
    if (n <= 0) break;
    for (char* p = buffer; p < buffer + n;) {
      auto* e = reinterpret_cast<inotify_event*>(p);
      std::string name = e->len ? e->name : "";
      if (name == base_ || name == base_ + ".minisig") {
        event.relevant = true;
        // Closing after writing, or a rename into place, means the writer is done.
        if (e->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) event.settled = true;
      }
      p += sizeof(inotify_event) + e->len;
    }
  }
  return event;
}

FetchResult FileFetcher::poll(const Validator& since, Sink& sink) {
  return fetch(signature_path_, since, sink);
}

FetchResult FileFetcher::download(const Validator& since, Sink& sink) {
  return fetch(path_, since, sink);
}

FetchResult FileFetcher::fetch_patch(const std::string& name, Sink& sink) {
  return fetch(path_ + ".patch/" + name, {}, sink);
}

FetchResult FileFetcher::fetch(const std::string& path, const Validator& since, Sink& sink) {
  FetchResult result;
  // An idle poll is one stat: the file is opened only when it differs from `since` (a system
  // call costs several microseconds on a VM, and an idle master polls every second).
  struct stat now {};
  if (!since.empty() && ::stat(path.c_str(), &now) == 0 && S_ISREG(now.st_mode) &&
      since == Validator{.etag = validator_of(now)}) {
    result.validator = since;
    result.status = FetchResult::Status::kNotModified;
    return result;
  }
  // Non-blocking: a FIFO opens at once (and is then refused) instead of waiting for a writer.
  Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  const int fd = file.get();
  if (!file) {
    if (errno == ENOENT) {
      result.status = FetchResult::Status::kMissing;
    } else {
      result.error = path + ": " + std::strerror(errno);
    }
    return result;
  }
  struct stat before {};
  ::fstat(fd, &before);
  if (!S_ISREG(before.st_mode)) {
    result.error = path + ": is " + std::string(file_kind(before.st_mode)) +
                   ", not a regular file: only a regular file is read";
    return result;
  }
  result.validator.etag = validator_of(before);
  if (!since.empty() && since == result.validator) {
    result.status = FetchResult::Status::kNotModified;
    return result;
  }
  char buffer[1 << 16];
  const auto deadline = std::chrono::steady_clock::now() + read_timeout_;
  for (;;) {
    if (std::chrono::steady_clock::now() > deadline) {
      result.error = path + ": not read within " + std::to_string(read_timeout_.count()) +
                     " ms (total_timeout)";
      return result;
    }
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      result.error = path + ": read: " + std::strerror(errno);
      return result;
    }
    if (n == 0) break;
    if (!sink.write(buffer, static_cast<std::size_t>(n))) {
      result.error = path + ": " + sink.error();
      return result;
    }
  }
  struct stat after {};
  ::fstat(fd, &after);
  file.reset();
  if (validator_of(after) != result.validator.etag) {
    result.error = path + ": changed while being read (still being written?)";
    return result;
  }
  result.status = FetchResult::Status::kChanged;
  return result;
}

}  // namespace molt::internal
