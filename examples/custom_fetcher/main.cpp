// custom_fetcher: a program that brings its own update source (Config::fetcher).
//
// Its releases live in a folder of numbered releases, as an rsync or a configuration tool lays
// them out: RELEASES/1/app + app.minisig, RELEASES/2/..., and the highest number is the newest.
// molt still verifies every build against the pinned keys, swaps it in and drains the old child;
// the fetcher only says what is there and streams the bytes.
//
//   custom_fetcher --listen 127.0.0.1:8080 --releases /srv/releases --pubkey molt.pub
//   GET /   "hello from <BuildID> (custom fetcher)"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <memory>
#include <molt/fetcher.hpp>
#include <molt/http_server.hpp>
#include <molt/molt.hpp>
#include <optional>
#include <string>

namespace {

class ReleasesFetcher final : public molt::Fetcher {
 public:
  explicit ReleasesFetcher(std::string folder) : folder_(std::move(folder)) {}

  std::string describe() const override { return "releases in " + folder_; }

  molt::FetchResult poll(const molt::Validator& since, molt::Sink& sink) override {
    std::optional<unsigned> latest = latest_release();
    if (!latest) return {.status = molt::FetchResult::Status::kMissing};
    return send(path_of(*latest, "app.minisig"), since, sink);
  }

  // The artifact of the newest release now. Should a release land between poll and download,
  // the signature does not match and molt tries again at the next check.
  molt::FetchResult download(const molt::Validator& since, molt::Sink& sink) override {
    std::optional<unsigned> latest = latest_release();
    if (!latest) return {.status = molt::FetchResult::Status::kMissing};
    return send(path_of(*latest, "app"), since, sink);
  }

 private:
  std::optional<unsigned> latest_release() const {
    std::optional<unsigned> latest;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(folder_, ec)) {
      std::string name = entry.path().filename();
      unsigned n = 0;
      auto [end, err] = std::from_chars(name.data(), name.data() + name.size(), n);
      if (err == std::errc() && end == name.data() + name.size() && (!latest || n > *latest)) {
        latest = n;
      }
    }
    return latest;
  }

  std::string path_of(unsigned release, const char* name) const {
    return folder_ + "/" + std::to_string(release) + "/" + name;
  }

  // The file's identity (inode, size, mtime) is its validator: unchanged, nothing is read.
  static molt::FetchResult send(const std::string& path, const molt::Validator& since,
                                molt::Sink& sink) {
    using Status = molt::FetchResult::Status;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      int cause = errno;
      if (fd >= 0) ::close(fd);
      if (cause == ENOENT) return {.status = Status::kMissing};
      return {.status = Status::kFailed,
              .error = path + ": " + (fd >= 0 ? "not a regular file" : std::strerror(cause))};
    }
    molt::Validator validator{.etag = std::to_string(st.st_ino) + "-" + std::to_string(st.st_size) +
                                      "-" + std::to_string(st.st_mtim.tv_nsec) + "-" +
                                      std::to_string(st.st_mtim.tv_sec)};
    if (!since.empty() && since == validator) {
      ::close(fd);
      return {.status = Status::kNotModified, .validator = validator};
    }
    molt::FetchResult result{.status = Status::kChanged, .validator = validator};
    char buffer[64 * 1024];
    for (;;) {
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        result = {.status = Status::kFailed, .error = path + ": read: " + std::strerror(errno)};
        break;
      }
      if (n == 0) break;
      if (!sink.write(buffer, static_cast<std::size_t>(n))) {
        result = {.status = Status::kFailed, .error = path + ": " + sink.error()};
        break;
      }
    }
    ::close(fd);
    return result;
  }

  std::string folder_;
};

}  // namespace

int main(int argc, char** argv) {
  molt::Config config;
  std::string releases;
  CLI::App app{"custom_fetcher: a self-upgrading server with an update source of its own"};
  app.add_option("--listen", config.listen, "address to listen on (repeatable)")->required();
  app.add_option("--releases", releases, "folder of numbered releases")->required();
  app.add_option("--pubkey", config.pubkeys, "minisign public key that may sign builds")
      ->required();
  app.add_option("--state-dir", config.state_dir, "where molt keeps its state");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // a usage error exits 2, as a bad configuration does
  }
  config.fetcher = std::make_shared<ReleasesFetcher>(releases);
  config.poll_interval = std::chrono::seconds(1);

  return molt::run(config, [](molt::State& state) {
    molt::HttpServer server;
    server.Get("/", [&](const httplib::Request&, httplib::Response& res) {
      res.set_content("hello from " + state.build_id() + " (custom fetcher)\n", "text/plain");
    });
    return server.serve(state) ? 0 : 1;
  });
}
