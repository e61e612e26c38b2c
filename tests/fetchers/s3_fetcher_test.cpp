// The s3 fetcher end to end against tests/tools/s3_stub_server.py, which checks every request's
// signature with botocore: what libcurl sends must be exactly what molt signed.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "fetchers/s3.hpp"
#include "http_test_servers.hpp"

namespace molt::internal {
namespace {

using Status = FetchResult::Status;
using test::fs::path;

constexpr char kKey[] = "AKIDMOLTTEST";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRET";
constexpr char kTempKey[] = "ASIATEMPTEST";
constexpr char kTempSecret[] = "tempsecret";
constexpr char kToken[] = "FwoGZXIvYXdzE/token+with=chars";

class StringSink : public Sink {
 public:
  bool write(const char* data, std::size_t size) override {
    data_.append(data, size);
    return true;
  }
  bool reset() override {
    data_.clear();
    return true;
  }
  std::string error() const override { return {}; }
  const std::string& data() const { return data_; }

 private:
  std::string data_;
};

// The stub on a temp folder of buckets.
class S3Stub {
 public:
  explicit S3Stub(const path& root, std::vector<std::string> flags = {}) {
    std::vector<std::string> argv = {
        "/usr/bin/python3", std::string(MOLT_TEST_TOOLS_DIR) + "/s3_stub_server.py",
        "--root",           root.string(),
        "--user",           std::string(kKey) + ":" + kSecret,
        "--user",           std::string(kTempKey) + ":" + kTempSecret + ":" + kToken,
        "--public",         "public-bucket"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    process_ = std::make_unique<test::Process>(argv, STDOUT_FILENO);
    std::optional<std::string> line = process_->wait_for_line("");
    if (!line) throw std::runtime_error("s3_stub_server.py did not start");
    port_ = std::stoi(*line);
  }
  std::string endpoint(std::string_view host = "127.0.0.1") const {
    return "http://" + std::string(host) + ":" + std::to_string(port_);
  }

  // The requests the stub saw, as JSON.
  nlohmann::json requests() const {
    StringSink sink;
    TransferRequest request;
    request.url = endpoint() + "/_control/requests";
    transfer(request, HttpOptions{}, sink);
    return nlohmann::json::parse(sink.data());
  }

 private:
  std::unique_ptr<test::Process> process_;
  int port_ = 0;
};

class S3FetcherTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    put("molt-bucket/releases/app", "the artifact");
    put("molt-bucket/releases/app.minisig", "the signature");
    put("molt-bucket/ünï cödé/a+b~c%d=e&f/app", "awkward");
    put("molt-bucket/ünï cödé/a+b~c%d=e&f/app.minisig", "awkward signature");
    put("public-bucket/app.minisig", "public signature");
    stub_ = new S3Stub(root());
  }
  static void TearDownTestSuite() {
    delete stub_;
    delete dir_;
  }

  static path root() { return dir_->path() / "root"; }
  static void put(const std::string& name, const std::string& data) {
    path file = root() / name;
    test::fs::create_directories(file.parent_path());
    test::write_file(file, data);
  }

  // No environment at all: every setting comes from `options`.
  static s3::Env no_env() {
    return [](const std::string&) { return std::optional<std::string>(); };
  }

  S3Options options(const S3Stub& stub = *stub_) const {
    S3Options o;
    o.access_key_id = kKey;
    o.secret_access_key = kSecret;
    o.endpoint = stub.endpoint();
    return o;
  }

  std::unique_ptr<S3Fetcher> make(const std::string& source, const S3Options& o,
                                  const HttpOptions& http = {}) {
    std::string error;
    auto fetcher = S3Fetcher::make(source, o, http, no_env(), error);
    EXPECT_TRUE(fetcher) << error;
    return fetcher;
  }

  static test::TempDir* dir_;
  static S3Stub* stub_;
};

test::TempDir* S3FetcherTest::dir_ = nullptr;
S3Stub* S3FetcherTest::stub_ = nullptr;

TEST_F(S3FetcherTest, PollsThenDownloadsThenSeesNothingChanged) {
  auto fetcher = make("s3://molt-bucket/releases/app", options());
  ASSERT_TRUE(fetcher);
  EXPECT_EQ(fetcher->describe(), "s3://molt-bucket/releases/app at " + stub_->endpoint());

  StringSink sink;
  FetchResult poll = fetcher->poll({}, sink);
  ASSERT_EQ(poll.status, Status::kChanged) << poll.error;
  EXPECT_EQ(sink.data(), "the signature");
  EXPECT_FALSE(poll.validator.etag.empty());
  EXPECT_FALSE(poll.validator.last_modified.empty());

  FetchResult download = fetcher->download({}, sink);
  ASSERT_EQ(download.status, Status::kChanged) << download.error;
  EXPECT_EQ(sink.data(), "the artifact");

  StringSink untouched;
  FetchResult again = fetcher->poll(poll.validator, untouched);
  EXPECT_EQ(again.status, Status::kNotModified) << again.error;
  EXPECT_EQ(again.validator, poll.validator);
  EXPECT_EQ(untouched.data(), "");
  FetchResult by_date = fetcher->poll({"", poll.validator.last_modified}, untouched);
  EXPECT_EQ(by_date.status, Status::kNotModified) << by_date.error;
}

TEST_F(S3FetcherTest, ConditionalHeadersAreSigned) {
  auto fetcher = make("s3://molt-bucket/releases/app", options());
  StringSink sink;
  FetchResult first = fetcher->poll({}, sink);
  ASSERT_EQ(first.status, Status::kChanged) << first.error;
  ASSERT_EQ(fetcher->poll(first.validator, sink).status, Status::kNotModified);
  std::string authorization;
  const nlohmann::json requests = stub_->requests();  // kept: the loop below refers into it
  for (const auto& header : requests.back()["headers"]) {
    if (header[0] == "Authorization") authorization = header[1].get<std::string>();
  }
  EXPECT_NE(authorization.find("SignedHeaders=host;if-none-match;"), std::string::npos)
      << authorization;
  EXPECT_EQ(authorization.find("if-modified-since"), std::string::npos) << authorization;
}

TEST_F(S3FetcherTest, AwkwardKeysArriveAsSigned) {
  auto fetcher = make("s3://molt-bucket/ünï cödé/a+b~c%d=e&f/app", options());
  StringSink sink;
  FetchResult poll = fetcher->poll({}, sink);
  ASSERT_EQ(poll.status, Status::kChanged) << poll.error;
  EXPECT_EQ(sink.data(), "awkward signature");
  EXPECT_EQ(stub_->requests().back()["path"],
            "/molt-bucket/%C3%BCn%C3%AF%20c%C3%B6d%C3%A9/a%2Bb~c%25d%3De%26f/app.minisig");
}

TEST_F(S3FetcherTest, VirtualHostedStyle) {
  S3Options o = options();
  o.endpoint = stub_->endpoint("localhost");
  o.style = S3Options::Style::kVirtualHosted;
  auto fetcher = make("s3://molt-bucket/releases/app", o);
  StringSink sink;
  FetchResult download = fetcher->download({}, sink);
  ASSERT_EQ(download.status, Status::kChanged) << download.error;
  EXPECT_EQ(sink.data(), "the artifact");
  EXPECT_EQ(stub_->requests().back()["path"], "/releases/app");
}

TEST_F(S3FetcherTest, SessionTokens) {
  S3Options o = options();
  o.access_key_id = kTempKey;
  o.secret_access_key = kTempSecret;
  o.session_token = kToken;
  StringSink sink;
  FetchResult good = make("s3://molt-bucket/releases/app", o)->poll({}, sink);
  EXPECT_EQ(good.status, Status::kChanged) << good.error;
  o.session_token = "stale";
  FetchResult bad = make("s3://molt-bucket/releases/app", o)->poll({}, sink);
  EXPECT_EQ(bad.error,
            "s3://molt-bucket/releases/app.minisig: the session token from the S3 options is not "
            "valid (400 Bad Request InvalidToken)");
}

TEST_F(S3FetcherTest, MissingObjectAndMissingBucket) {
  StringSink sink;
  FetchResult missing = make("s3://molt-bucket/releases/nope", options())->poll({}, sink);
  EXPECT_EQ(missing.status, Status::kMissing) << missing.error;
  EXPECT_EQ(missing.error, "");
  FetchResult no_bucket = make("s3://no-bucket/app", options())->download({}, sink);
  EXPECT_EQ(no_bucket.status, Status::kFailed);
  EXPECT_EQ(no_bucket.error, "s3://no-bucket/app: no such bucket at " + stub_->endpoint() +
                                 " (404 Not Found NoSuchBucket)");
}

TEST_F(S3FetcherTest, WrongSecretIsRefusedAndNeverShown) {
  S3Options o = options();
  o.secret_access_key = "not-the-secret";
  StringSink sink;
  FetchResult result = make("s3://molt-bucket/releases/app", o)->poll({}, sink);
  EXPECT_EQ(result.error,
            "s3://molt-bucket/releases/app.minisig: the secret key from the S3 options does not "
            "match its access key (403 Forbidden SignatureDoesNotMatch)");
  EXPECT_EQ(result.error.find("not-the-secret"), std::string::npos);
}

TEST_F(S3FetcherTest, UnknownAccessKey) {
  S3Options o = options();
  o.access_key_id = "AKIDUNKNOWN";
  StringSink sink;
  EXPECT_EQ(make("s3://molt-bucket/releases/app", o)->poll({}, sink).error,
            "s3://molt-bucket/releases/app.minisig: the access key from the S3 options is unknown "
            "to " +
                stub_->endpoint() + " (403 Forbidden InvalidAccessKeyId)");
}

TEST_F(S3FetcherTest, WrongRegion) {
  S3Options o = options();
  o.region = "eu-west-1";
  StringSink sink;
  EXPECT_EQ(make("s3://molt-bucket/releases/app", o)->poll({}, sink).error,
            "s3://molt-bucket/releases/app.minisig: the bucket is in region us-east-1, not "
            "eu-west-1: set AWS_REGION or the S3 options' region (400 Bad Request "
            "AuthorizationHeaderMalformed)");
}

TEST_F(S3FetcherTest, ClockSkewIsMeasuredFromTheServersDate) {
  S3Stub skewed(root(), {"--skew", "1213"});
  StringSink sink;
  std::string error = make("s3://molt-bucket/releases/app", options(skewed))->poll({}, sink).error;
  EXPECT_TRUE(std::regex_search(error, std::regex("clock is 20m1[234]s behind the server's")))
      << error;
  EXPECT_TRUE(error.ends_with("(403 Forbidden RequestTimeTooSkewed)")) << error;
}

TEST_F(S3FetcherTest, AnonymousRequestsAreUnsigned) {
  S3Options o;
  o.anonymous = true;
  o.endpoint = stub_->endpoint();
  StringSink sink;
  FetchResult result = make("s3://public-bucket/app", o)->poll({}, sink);
  EXPECT_EQ(result.status, Status::kChanged) << result.error;
  EXPECT_EQ(sink.data(), "public signature");
  const nlohmann::json requests = stub_->requests();
  for (const auto& header : requests.back()["headers"]) {
    EXPECT_NE(header[0], "Authorization");
  }
  EXPECT_NE(make("s3://molt-bucket/releases/app", o)
                ->poll({}, sink)
                .error.find("access denied to unsigned requests"),
            std::string::npos);
}

TEST_F(S3FetcherTest, OptionHeadersAreSignedToo) {
  HttpOptions http;
  http.headers = {"x-amz-request-payer: requester", "X-Trace: abc  def"};
  StringSink sink;
  FetchResult result = make("s3://molt-bucket/releases/app", options(), http)->poll({}, sink);
  EXPECT_EQ(result.status, Status::kChanged) << result.error;

  http.headers = {"Authorization: Bearer x"};
  std::string error;
  EXPECT_FALSE(S3Fetcher::make("s3://molt-bucket/app", options(), http, no_env(), error));
  EXPECT_EQ(error, "http header Authorization cannot be set on an s3 source: molt sets it");
}

TEST_F(S3FetcherTest, SomethingElseAnswering) {
  S3Stub not_s3(root(), {"--not-s3"});
  StringSink sink;
  EXPECT_EQ(make("s3://molt-bucket/app", options(not_s3))->poll({}, sink).error,
            "s3://molt-bucket/app.minisig: 502 Bad Gateway from " + not_s3.endpoint() +
                ", not an S3 answer (text/html): is the endpoint right?");
}

TEST_F(S3FetcherTest, ARedirectIsNotFollowedWithTheCredentials) {
  // An endpoint that redirects to another host: the signed request (and its credentials) must
  // go nowhere else; the redirect is one failure line.
  S3Stub elsewhere(root());
  test::TempDir empty;
  test::PythonServer redirecting(empty.path());
  StringSink control;
  TransferRequest set_mode;
  set_mode.url = redirecting.url("/_control/mode?path=/molt-bucket/app.minisig&mode=redirect-to=") +
                 elsewhere.endpoint();
  ASSERT_TRUE(transfer(set_mode, HttpOptions{}, control).ok());
  S3Options o = options();
  o.endpoint = redirecting.url("");
  StringSink sink;
  FetchResult result = make("s3://molt-bucket/app", o)->poll({}, sink);
  EXPECT_EQ(result.status, Status::kFailed);
  EXPECT_NE(result.error.find("302"), std::string::npos) << result.error;
  EXPECT_EQ(result.error.find(kSecret), std::string::npos);
  EXPECT_TRUE(elsewhere.requests().empty()) << elsewhere.requests().dump();
}

TEST_F(S3FetcherTest, NobodyListening) {
  S3Options o = options();
  o.endpoint = "http://127.0.0.1:" + std::to_string(test::free_port());
  StringSink sink;
  std::string error = make("s3://molt-bucket/app", o)->poll({}, sink).error;
  EXPECT_TRUE(error.starts_with("s3://molt-bucket/app.minisig at " + o.endpoint +
                                "/molt-bucket/app.minisig: "))
      << error;
}

TEST_F(S3FetcherTest, BadSourcesFailAtStartup) {
  std::string error;
  EXPECT_FALSE(S3Fetcher::make("s3://molt-bucket/", options(), {}, no_env(), error));
  EXPECT_NE(error.find("must name an object"), std::string::npos);
  S3Options o = options();
  o.endpoint = "minio:9000";
  EXPECT_FALSE(S3Fetcher::make("s3://molt-bucket/app", o, {}, no_env(), error));
  EXPECT_NE(error.find("must start with http:// or https://"), std::string::npos);
  EXPECT_FALSE(S3Fetcher::make("s3://molt-bucket/app", S3Options{}, {}, no_env(), error));
  EXPECT_NE(error.find("no AWS credentials"), std::string::npos);
}

TEST_F(S3FetcherTest, AwsRequestsAreVirtualHostedAndSigned) {
  S3Options o;
  o.access_key_id = kKey;
  o.secret_access_key = kSecret;
  o.region = "eu-west-3";
  auto fetcher = make("s3://molt-bucket/releases/app", o);
  EXPECT_EQ(fetcher->describe(), "s3://molt-bucket/releases/app");
  TransferRequest request = fetcher->request(true, {"\"etag\"", ""}, s3::Clock::from_time_t(0));
  EXPECT_EQ(request.url, "https://molt-bucket.s3.eu-west-3.amazonaws.com/releases/app.minisig");
  ASSERT_EQ(request.headers.size(), 4u);
  EXPECT_EQ(request.headers[0], "If-None-Match: \"etag\"");
  EXPECT_EQ(request.headers[1], "x-amz-date: 19700101T000000Z");
  EXPECT_EQ(request.headers[2], "x-amz-content-sha256: " + std::string(s3::kEmptyPayloadSha256));
  EXPECT_TRUE(request.headers[3].starts_with(
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDMOLTTEST/19700101/eu-west-3/s3/"
      "aws4_request,SignedHeaders=host;if-none-match;x-amz-content-sha256;x-amz-date,"))
      << request.headers[3];
}

}  // namespace
}  // namespace molt::internal
