// The http fetcher and the transfer under it, against real servers: the python test server
// (which misbehaves on command) and nginx, over http and https.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <random>

#include "fetchers/gunzip.hpp"
#include "fetchers/http.hpp"
#include "fetchers/transfer.hpp"
#include "http_test_servers.hpp"

namespace molt::internal {
namespace {

using test::fs::path;
using Status = FetchResult::Status;

// Keeps what it is given, and how: the transfer must stream, not hand over one buffer.
class FakeSink : public Sink {
 public:
  bool write(const char* data, std::size_t size) override {
    ++writes;
    data_.append(data, size);
    if (refuse_beyond && data_.size() > *refuse_beyond) {
      error_ = "fake sink: full";
      return false;
    }
    return true;
  }
  bool reset() override {
    ++resets;
    data_.clear();
    return true;
  }
  std::string error() const override { return error_; }
  const std::string& data() const { return data_; }

  int writes = 0;
  int resets = 0;
  std::optional<std::size_t> refuse_beyond;

 private:
  std::string data_;
  std::string error_;
};

std::string random_bytes(std::size_t size) {
  std::mt19937 random(42);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(random());
  return out;
}

std::string gzip(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// How the python server's /_control/requests writes a string.
std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Bounds that keep every test short even when a server misbehaves.
HttpOptions bounded() {
  HttpOptions options;
  options.connect_timeout = Duration{5'000};
  options.stall_timeout = Duration{5'000};
  options.total_timeout = Duration{30'000};
  return options;
}

const std::string kArtifact = random_bytes(200 * 1024);
const std::string kSignature = "untrusted comment: test\nRWQ...\ntrusted comment: x\nabc\n";

// A folder with an artifact, its signature, its gzipped form and a truncated gzip.
class HttpFetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::fs::create_directory(root());
    test::write_file(root() / "app", kArtifact);
    test::write_file(root() / "app.minisig", kSignature);
    std::string gz = gzip(kArtifact);
    test::write_file(root() / "app.gz", gz);
    test::write_file(root() / "cut.gz", gz.substr(0, gz.size() / 2));
    // Published a while ago, as in steady state: validators from the current second are not
    // kept (see HttpFetcher::fetch), which is tested on its own.
    for (const auto& entry : test::fs::directory_iterator(root())) {
      test::fs::last_write_time(entry.path(),
                                test::fs::file_time_type::clock::now() - std::chrono::hours(1));
    }
  }
  path root() const { return dir_.path() / "www"; }

  // The python server's record of the requests it served.
  std::string requests_seen(const test::PythonServer& server) {
    FakeSink sink;
    TransferRequest request;
    request.url = server.url("/_control/requests");
    EXPECT_TRUE(transfer(request, bounded(), sink).ok());
    return sink.data();
  }

  test::TempDir dir_;
};

class PythonServerTest : public HttpFetcherTest {
 protected:
  void SetUp() override {
    HttpFetcherTest::SetUp();
    server_ = std::make_unique<test::PythonServer>(root());
  }
  std::string url(std::string_view path) const { return server_->url(path); }
  FetchResult poll(std::string_view path, HttpOptions options = bounded(), Validator since = {}) {
    return HttpFetcher(url(path), options).poll(since, sink_);
  }
  FetchResult download(std::string_view path, HttpOptions options = bounded()) {
    return HttpFetcher(url(path), options).download({}, sink_);
  }

  std::unique_ptr<test::PythonServer> server_;
  FakeSink sink_;
};

TEST_F(PythonServerTest, PollFetchesTheSignatureThenGetsNotModified) {
  FetchResult first = poll("/app");
  ASSERT_EQ(first.status, Status::kChanged) << first.error;
  EXPECT_EQ(sink_.data(), kSignature);
  EXPECT_FALSE(first.validator.etag.empty());
  EXPECT_FALSE(first.validator.last_modified.empty());

  FakeSink again;
  FetchResult second = HttpFetcher(url("/app"), bounded()).poll(first.validator, again);
  EXPECT_EQ(second.status, Status::kNotModified) << second.error;
  EXPECT_EQ(second.validator, first.validator);
  EXPECT_EQ(again.writes, 0);

  std::string seen = requests_seen(*server_);
  EXPECT_NE(seen.find("\"If-None-Match\": " + json_string(first.validator.etag)), std::string::npos)
      << seen;
  // With an ETag the date is not sent: the ETag decides, and dates count whole seconds.
  EXPECT_EQ(seen.find("\"If-Modified-Since\""), std::string::npos) << seen;
  EXPECT_NE(seen.find("\"User-Agent\": \"molt/"), std::string::npos) << seen;
}

TEST_F(PythonServerTest, DownloadStreamsTheArtifactInChunks) {
  FetchResult result = download("/app");
  ASSERT_EQ(result.status, Status::kChanged) << result.error;
  EXPECT_EQ(sink_.data(), kArtifact);
  EXPECT_GT(sink_.writes, 1);
  EXPECT_EQ(sink_.resets, 1);
}

TEST_F(PythonServerTest, A404IsMissingNotAnError) {
  FetchResult result = poll("/_mode/404/app");
  EXPECT_EQ(result.status, Status::kMissing);
  EXPECT_EQ(result.error, "");
}

TEST_F(PythonServerTest, A500IsOneLineNamingTheSignature) {
  FetchResult result = poll("/_mode/500/app");
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_EQ(result.error, url("/_mode/500/app.minisig") + ": 500 Internal Server Error");
  EXPECT_EQ(sink_.writes, 0);
}

TEST_F(PythonServerTest, A503ThenA200) {
  FakeSink control;
  TransferRequest request;
  request.url = url("/_control/mode?path=/app.minisig&mode=503-then-200");
  ASSERT_TRUE(transfer(request, bounded(), control).ok());

  FetchResult first = poll("/app");
  EXPECT_EQ(first.status, Status::kFailed);
  EXPECT_EQ(first.error, url("/app.minisig") + ": 503 Service Unavailable");
  FetchResult second = poll("/app");
  EXPECT_EQ(second.status, Status::kChanged) << second.error;
  EXPECT_EQ(sink_.data(), kSignature);
}

TEST_F(PythonServerTest, ABodyShorterThanItsLengthFails) {
  FetchResult result = download("/_mode/short/app");
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_EQ(result.error, url("/_mode/short/app") + ": body ended after " +
                              std::to_string(kArtifact.size() / 2) + " of " +
                              std::to_string(kArtifact.size()) + " bytes");
}

TEST_F(PythonServerTest, AStalledBodyFails) {
  HttpOptions options = bounded();
  options.stall_timeout = Duration{1'000};
  options.total_timeout = Duration{10'000};
  FetchResult result = download("/_mode/stall/app", options);
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_EQ(result.error, url("/_mode/stall/app") + ": stalled: no data for 1s (stall_timeout)");
}

TEST_F(PythonServerTest, ASlowBodyIsNoStall) {
  // A byte every 1.5 s with a 2 s stall timeout: slow, never silent for 2 s. (libcurl's own
  // low-speed check, an average over its window, called this a stall.)
  HttpOptions options = bounded();
  options.stall_timeout = Duration{2'000};
  options.total_timeout = Duration{30'000};
  FetchResult result = download("/_mode/trickle/app", options);
  ASSERT_EQ(result.status, Status::kChanged) << result.error;
  EXPECT_EQ(sink_.data(), kArtifact.substr(0, 4));
}

TEST_F(PythonServerTest, ABodyThatNeverEndsHitsTheTotalTimeout) {
  HttpOptions options = bounded();
  options.stall_timeout = Duration{1'000};
  options.total_timeout = Duration{2'000};
  FetchResult result = download("/_mode/endless/app", options);
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_EQ(result.error, url("/_mode/endless/app") + ": not finished after 2s (total_timeout)");
}

TEST_F(PythonServerTest, ATooLargeContentLengthIsRefusedBeforeTheBody) {
  HttpOptions options = bounded();
  options.max_size = 1000;
  FetchResult result = download("/app", options);
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_EQ(result.error, url("/app") + ": larger than the 1000-byte limit (max_size)");
  EXPECT_EQ(sink_.writes, 0);

  result = download("/_mode/huge-length/app");
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_NE(result.error.find("-byte limit (max_size)"), std::string::npos) << result.error;
  EXPECT_EQ(sink_.writes, 0);
}

TEST_F(PythonServerTest, ATooLargeBodyWithoutLengthIsCutWhileStreaming) {
  HttpOptions options = bounded();
  options.max_size = 1000;
  FetchResult result = download("/_mode/no-length/app", options);
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_EQ(result.error,
            url("/_mode/no-length/app") + ": larger than the 1000-byte limit (max_size)");
  EXPECT_LE(sink_.data().size(), 1000u);
}

TEST_F(PythonServerTest, ABodyWithoutLengthIsWholeAtClose) {
  FetchResult result = download("/_mode/no-length/app");
  ASSERT_EQ(result.status, Status::kChanged) << result.error;
  EXPECT_EQ(sink_.data(), kArtifact);
}

TEST_F(PythonServerTest, RedirectsAreFollowed) {
  FetchResult result = download("/_mode/redirect/app");
  ASSERT_EQ(result.status, Status::kChanged) << result.error;
  EXPECT_EQ(sink_.data(), kArtifact);
}

TEST_F(PythonServerTest, ARedirectLoopStopsAtMaxRedirects) {
  HttpOptions options = bounded();
  options.max_redirects = 3;
  FetchResult result = download("/_mode/redirect-loop/app", options);
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_EQ(result.error,
            url("/_mode/redirect-loop/app") + ": more than 3 redirects (max_redirects)");
}

TEST_F(PythonServerTest, NoRedirectsAllowedLeavesTheRedirectAsTheAnswer) {
  HttpOptions options = bounded();
  options.max_redirects = 0;
  FetchResult result = download("/_mode/redirect/app", options);
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_EQ(result.error, url("/_mode/redirect/app") + ": 302 Found");
}

TEST_F(PythonServerTest, AGzipEncodedBodyIsDecompressed) {
  FetchResult result = download("/_mode/gzip/app");
  ASSERT_EQ(result.status, Status::kChanged) << result.error;
  EXPECT_EQ(sink_.data(), kArtifact);
}

TEST_F(PythonServerTest, AGzFileIsDecompressed) {
  FetchResult result = download("/app.gz");
  ASSERT_EQ(result.status, Status::kChanged) << result.error;
  EXPECT_EQ(sink_.data(), kArtifact);
}

TEST_F(PythonServerTest, ACorruptGzipBodyFails) {
  FetchResult result = download("/_mode/corrupt-gzip/app");
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_EQ(result.error,
            url("/_mode/corrupt-gzip/app") + ": corrupt gzip body: invalid block type");
}

TEST_F(PythonServerTest, ATruncatedGzFileFails) {
  FetchResult result = download("/cut.gz");
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_EQ(result.error,
            url("/cut.gz") + ": corrupt gzip body: it ends before the gzip stream does");
}

TEST_F(PythonServerTest, HeadersComeFromTheOptionsAndFromFiles) {
  path headers = dir_.path() / "headers";
  test::write_file(headers, "# a token\nX-Token: from-file\n\nX-Other: two\r\n");
  HttpOptions options = bounded();
  options.headers = {"X-Inline: one", "@" + headers.string()};
  FetchResult result = poll("/app", options);
  ASSERT_EQ(result.status, Status::kChanged) << result.error;
  std::string seen = requests_seen(*server_);
  EXPECT_NE(seen.find("\"X-Inline\": \"one\""), std::string::npos) << seen;
  EXPECT_NE(seen.find("\"X-Token\": \"from-file\""), std::string::npos) << seen;
  EXPECT_NE(seen.find("\"X-Other\": \"two\""), std::string::npos) << seen;
}

TEST_F(PythonServerTest, ABadHeaderNamesItsPlaceNotItsValue) {
  path headers = dir_.path() / "headers";
  test::write_file(headers, "X-Token: fine\nsecret-without-colon\n");
  HttpOptions options = bounded();
  options.headers = {"@" + headers.string()};
  FetchResult result = poll("/app", options);
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_EQ(result.error, url("/app.minisig") + ": headers file " + headers.string() +
                              ": line 2 is not \"Name: value\"");

  options.headers = {"@" + (dir_.path() / "absent").string()};
  result = poll("/app", options);
  EXPECT_EQ(result.error, url("/app.minisig") + ": headers file " +
                              (dir_.path() / "absent").string() + ": No such file or directory");
  EXPECT_EQ(requests_seen(*server_), "[]");
}

TEST_F(PythonServerTest, CredentialsInTheUrlStayOutOfLogLines) {
  std::string host = "127.0.0.1:" + std::to_string(server_->port());
  HttpFetcher fetcher("http://user:hunter2@" + host + "/_mode/500/app?token=sekrit", bounded());
  EXPECT_EQ(fetcher.describe(), "http://" + host + "/_mode/500/app");
  FetchResult result = fetcher.poll({}, sink_);
  EXPECT_EQ(result.error, "http://" + host + "/_mode/500/app.minisig: 500 Internal Server Error");
  // The signature keeps the query (a tokened URL), and .minisig goes before it.
  EXPECT_NE(requests_seen(*server_).find("/_mode/500/app.minisig?token=sekrit"), std::string::npos);
}

TEST_F(PythonServerTest, ASinkThatRefusesStopsTheTransfer) {
  sink_.refuse_beyond = 1000;
  FetchResult result = download("/app");
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_EQ(result.error, url("/app") + ": fake sink: full");
}

TEST_F(PythonServerTest, TransferKeepsAnErrorBodyAndTheHeadersForTheCaller) {
  TransferRequest request;
  request.url = url("/_mode/500/app");
  TransferResult result = transfer(request, bounded(), sink_);
  EXPECT_TRUE(result.ok()) << result.error;  // a whole response, even if not a good one
  EXPECT_EQ(result.status_line(), "500 Internal Server Error");
  EXPECT_EQ(result.error_body, "misbehaving on purpose\n");
  EXPECT_FALSE(result.date.empty());
  EXPECT_EQ(sink_.writes + sink_.resets, 0);

  request.url = url("/app");
  result = transfer(request, bounded(), sink_);
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.content_type, "application/octet-stream");
  EXPECT_EQ(result.body_size, kArtifact.size());
  EXPECT_EQ(result.error_body, "");
}

TEST_F(HttpFetcherTest, ARefusedConnectionIsOneLine) {
  // A bound socket that does not listen: connecting to it is refused, deterministically.
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof addr;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), size), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size);
  std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/app";
  FakeSink sink;
  FetchResult result = HttpFetcher(url, bounded()).download({}, sink);
  close(fd);
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_TRUE(result.error.starts_with(url + ": ")) << result.error;
  EXPECT_NE(result.error.find("Couldn't connect"), std::string::npos) << result.error;
  EXPECT_EQ(result.error.find('\n'), std::string::npos);
}

TEST(RedactUrl, DropsUserinfoQueryAndFragment) {
  EXPECT_EQ(redact_url("https://u:p@h:8443/a/b?X-Amz-Signature=s#f"), "https://h:8443/a/b");
  EXPECT_EQ(redact_url("https://u@h?x=1"), "https://h");
  EXPECT_EQ(redact_url("http://h/a@b"), "http://h/a@b");
}

TEST(GunzipTest, ConcatenatedMembersAreOneStream) {
  std::string both = gzip("first ") + gzip("second");
  Gunzip gunzip;
  std::string out;
  auto keep = [&out](const char* data, std::size_t size) {
    out.append(data, size);
    return true;
  };
  for (std::size_t i = 0; i < both.size(); i += 7) {
    ASSERT_TRUE(gunzip.write(both.data() + i, std::min<std::size_t>(7, both.size() - i), keep))
        << gunzip.error();
  }
  EXPECT_TRUE(gunzip.finish()) << gunzip.error();
  EXPECT_EQ(out, "first second");
}

// nginx as the update server: what a real deployment sees.
class NginxTest : public HttpFetcherTest {};

TEST_F(NginxTest, AnUnchangedSourceCostsOnlyConditionalSignatureRequests) {
  test::Nginx nginx(dir_.path(), root());
  HttpFetcher fetcher(nginx.url("/app"), bounded());
  FakeSink signature;
  FetchResult polled = fetcher.poll({}, signature);
  ASSERT_EQ(polled.status, Status::kChanged) << polled.error;
  EXPECT_EQ(signature.data(), kSignature);
  FakeSink artifact;
  FetchResult downloaded = fetcher.download({}, artifact);
  ASSERT_EQ(downloaded.status, Status::kChanged) << downloaded.error;
  EXPECT_EQ(artifact.data(), kArtifact);

  for (int i = 0; i < 3; ++i) {
    FakeSink sink;
    FetchResult again = fetcher.poll(polled.validator, sink);
    EXPECT_EQ(again.status, Status::kNotModified) << again.error;
    EXPECT_EQ(sink.writes, 0);
  }
  // Last-Modified alone is enough, for servers that send no ETag.
  FakeSink by_date;
  FetchResult dated = fetcher.poll({"", polled.validator.last_modified}, by_date);
  EXPECT_EQ(dated.status, Status::kNotModified) << dated.error;

  // A new signature (a new mtime) is fetched again.
  timespec times[2] = {{0, UTIME_OMIT}, {1'000'000'000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, (root() / "app.minisig").c_str(), times, 0), 0);
  FakeSink changed;
  FetchResult after = fetcher.poll(polled.validator, changed);
  EXPECT_EQ(after.status, Status::kChanged) << after.error;
  EXPECT_NE(after.validator, polled.validator);
  EXPECT_EQ(changed.data(), kSignature);

  std::vector<std::string> expected = {
      "GET /app.minisig HTTP/1.1 200 " + std::to_string(kSignature.size()),
      "GET /app HTTP/1.1 200 " + std::to_string(kArtifact.size()),
      "GET /app.minisig HTTP/1.1 304 0",
      "GET /app.minisig HTTP/1.1 304 0",
      "GET /app.minisig HTTP/1.1 304 0",
      "GET /app.minisig HTTP/1.1 304 0",
      "GET /app.minisig HTTP/1.1 200 " + std::to_string(kSignature.size())};
  EXPECT_EQ(nginx.stop_and_read_access_log(), expected);
}

TEST_F(NginxTest, AMissingSignatureIsMissing) {
  test::Nginx nginx(dir_.path(), root());
  FakeSink sink;
  FetchResult result = HttpFetcher(nginx.url("/nothing"), bounded()).poll({}, sink);
  EXPECT_EQ(result.status, Status::kMissing) << result.error;
}

// HTTPS with a CA the test makes: refused unless the CA is given.
class HttpsTest : public HttpFetcherTest {
 protected:
  void SetUp() override {
    HttpFetcherTest::SetUp();
    pki_ = test::TestPki::make(dir_.path());
  }
  test::TestPki pki_;
};

TEST_F(HttpsTest, AnUnknownCaIsRefusedWithATlsLine) {
  test::Nginx nginx(dir_.path(), root(), &pki_);
  FakeSink sink;
  FetchResult result = HttpFetcher(nginx.url("/app"), bounded()).poll({}, sink);
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_TRUE(result.error.starts_with(nginx.url("/app.minisig") + ": TLS: ")) << result.error;
  EXPECT_NE(result.error.find("certificate"), std::string::npos) << result.error;
  EXPECT_EQ(sink.writes, 0);
}

TEST_F(HttpsTest, TheCaFileIsTrusted) {
  test::Nginx nginx(dir_.path(), root(), &pki_);
  HttpOptions options = bounded();
  options.ca_file = pki_.ca_cert.string();
  FakeSink sink;
  FetchResult result = HttpFetcher(nginx.url("/app"), options).download({}, sink);
  ASSERT_EQ(result.status, Status::kChanged) << result.error;
  EXPECT_EQ(sink.data(), kArtifact);
}

TEST_F(HttpsTest, RedirectsStayOnHttps) {
  test::PythonServer server(root(), &pki_);
  HttpOptions options = bounded();
  options.ca_file = pki_.ca_cert.string();
  FakeSink sink;
  FetchResult followed = HttpFetcher(server.url("/_mode/redirect/app"), options).download({}, sink);
  ASSERT_EQ(followed.status, Status::kChanged) << followed.error;
  EXPECT_EQ(sink.data(), kArtifact);

  FakeSink refused;
  FetchResult result =
      HttpFetcher(server.url("/_mode/redirect-http/app"), options).download({}, refused);
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_EQ(result.error, server.url("/_mode/redirect-http/app") +
                              ": refused redirect from https to http://127.0.0.1:" +
                              std::to_string(server.port()) + "/app");
  EXPECT_EQ(refused.writes, 0);
}

}  // namespace
}  // namespace molt::internal
