// S3's refusals, one line each; bodies modelled on what S3 sends.
#include "fetchers/s3_error.hpp"

#include <gtest/gtest.h>

namespace molt::internal::s3 {
namespace {

const Clock::time_point kSent = Clock::from_time_t(1369353600);  // 2013-05-24T00:00:00Z

std::string s3_body(std::string_view code, std::string_view extra = "") {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + std::string(code) +
         "</Code><Message>S3 says so</Message>" + std::string(extra) +
         "<RequestId>4442587FB7D0A2F9</RequestId></Error>";
}

RequestContext context(std::string origin = "the environment") {
  return {"s3://molt-bucket/app.minisig", "https://s3.eu-west-3.amazonaws.com", "eu-west-3",
          std::move(origin), kSent};
}

Verdict judge_body(long status, std::string_view status_line, const std::string& body,
                   std::string date = "", std::string origin = "the environment") {
  return judge({status, std::string(status_line), body, "application/xml", std::move(date)},
               context(std::move(origin)));
}

TEST(S3Error, ParsesTheErrorDocument) {
  auto doc =
      parse_error_document(s3_body("AuthorizationHeaderMalformed", "<Region>eu-west-1</Region>"));
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->code, "AuthorizationHeaderMalformed");
  EXPECT_EQ(doc->message, "S3 says so");
  EXPECT_EQ(doc->region, "eu-west-1");
  doc = parse_error_document("<Error><Code>X</Code><Message>a &amp; b &lt;c&gt;</Message></Error>");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->message, "a & b <c>");
  EXPECT_FALSE(parse_error_document("<html><body>502 Bad Gateway</body></html>"));
  EXPECT_FALSE(parse_error_document("<Error><Message>no code</Message></Error>"));
  EXPECT_FALSE(parse_error_document(""));
}

TEST(S3Error, NoSuchKeyIsMissingNotAnError) {
  Verdict v = judge_body(404, "404 Not Found", s3_body("NoSuchKey", "<Key>app.minisig</Key>"));
  EXPECT_TRUE(v.missing);
  EXPECT_EQ(v.error, "");
}

TEST(S3Error, NoSuchBucket) {
  EXPECT_EQ(judge_body(404, "404 Not Found", s3_body("NoSuchBucket")).error,
            "s3://molt-bucket/app.minisig: no such bucket at https://s3.eu-west-3.amazonaws.com "
            "(404 Not Found NoSuchBucket)");
}

TEST(S3Error, AccessDeniedSaysWhoseCredentials) {
  Verdict v = judge_body(403, "403 Forbidden", s3_body("AccessDenied"));
  EXPECT_FALSE(v.missing);
  EXPECT_EQ(v.error,
            "s3://molt-bucket/app.minisig: access denied to the credentials from the environment "
            "(without s3:ListBucket, S3 says this for a missing object too) (403 Forbidden "
            "AccessDenied)");
  v = judge_body(403, "403 Forbidden", s3_body("AccessDenied"), "", "anonymous");
  EXPECT_NE(v.error.find("access denied to unsigned requests: the object is not public"),
            std::string::npos);
}

TEST(S3Error, CredentialProblems) {
  EXPECT_EQ(judge_body(403, "403 Forbidden", s3_body("InvalidAccessKeyId")).error,
            "s3://molt-bucket/app.minisig: the access key from the environment is unknown to "
            "https://s3.eu-west-3.amazonaws.com (403 Forbidden InvalidAccessKeyId)");
  // S3 echoes the string to sign and the access key: none of it belongs in a log line.
  Verdict v = judge_body(
      403, "403 Forbidden",
      s3_body("SignatureDoesNotMatch",
              "<AWSAccessKeyId>AKIAEXAMPLE</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n"
              "20130524T000000Z</StringToSign><SignatureProvided>abc</SignatureProvided>"));
  EXPECT_EQ(v.error,
            "s3://molt-bucket/app.minisig: the secret key from the environment does not match "
            "its access key (403 Forbidden SignatureDoesNotMatch)");
  EXPECT_NE(judge_body(400, "400 Bad Request", s3_body("ExpiredToken"))
                .error.find("the session token from the environment has expired"),
            std::string::npos);
}

TEST(S3Error, ClockSkewFromTheServersDate) {
  std::string body = s3_body("RequestTimeTooSkewed",
                             "<RequestTime>20130524T000000Z</RequestTime>"
                             "<ServerTime>2013-05-24T00:20:13Z</ServerTime>"
                             "<MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>");
  EXPECT_EQ(judge_body(403, "403 Forbidden", body, "Fri, 24 May 2013 00:20:13 GMT").error,
            "s3://molt-bucket/app.minisig: this machine's clock is 20m13s behind the server's (S3 "
            "allows 15m): fix the clock (NTP) (403 Forbidden RequestTimeTooSkewed)");
  EXPECT_NE(judge_body(403, "403 Forbidden", body, "Thu, 23 May 2013 21:58:00 GMT")
                .error.find("clock is 2h02m ahead of the server's"),
            std::string::npos);
  // No Date header: the document's ServerTime.
  EXPECT_NE(judge_body(403, "403 Forbidden", body).error.find("20m13s behind"), std::string::npos);
  EXPECT_NE(judge_body(403, "403 Forbidden", s3_body("RequestTimeTooSkewed"))
                .error.find("more than 15m off the server's"),
            std::string::npos);
}

TEST(S3Error, WrongRegionNamesTheRightOne) {
  EXPECT_EQ(judge_body(400, "400 Bad Request",
                       s3_body("AuthorizationHeaderMalformed", "<Region>eu-west-1</Region>"))
                .error,
            "s3://molt-bucket/app.minisig: the bucket is in region eu-west-1, not eu-west-3: set "
            "AWS_REGION or the S3 options' region (400 Bad Request AuthorizationHeaderMalformed)");
  EXPECT_NE(judge_body(301, "301 Moved Permanently",
                       s3_body("PermanentRedirect",
                               "<Bucket>molt-bucket</Bucket>"
                               "<Endpoint>molt-bucket.s3.ap-south-1.amazonaws.com</Endpoint>"))
                .error.find("the bucket is in region ap-south-1, not eu-west-3"),
            std::string::npos);
  EXPECT_NE(judge_body(301, "301 Moved Permanently",
                       s3_body("PermanentRedirect", "<Endpoint>s3.amazonaws.com</Endpoint>"))
                .error.find("in region us-east-1"),
            std::string::npos);
}

TEST(S3Error, OtherCodesCarryS3sMessage) {
  EXPECT_EQ(judge_body(503, "503 Service Unavailable", s3_body("SlowDown")).error,
            "s3://molt-bucket/app.minisig: S3 says so (503 Service Unavailable SlowDown)");
}

TEST(S3Error, ServerTextIsCleanedAndBounded) {
  std::string body = "<Error><Code>Weird\nCode</Code><Message>line1\r\nline2\x1b[31m" +
                     std::string(500, 'x') + "</Message></Error>";
  std::string error = judge_body(400, "400 Bad Request", body).error;
  EXPECT_EQ(error.find_first_of("\r\n\x1b"), std::string::npos) << error;
  EXPECT_LT(error.size(), 400u);
}

TEST(S3Error, AnswersFromSomethingElse) {
  Verdict v = judge({502, "502 Bad Gateway", "<html>nginx</html>", "text/html", ""}, context());
  EXPECT_EQ(
      v.error,
      "s3://molt-bucket/app.minisig: 502 Bad Gateway from https://s3.eu-west-3.amazonaws.com, "
      "not an S3 answer (text/html): is the endpoint right?");
  v = judge({404, "404 Not Found", "", "", ""}, context());
  EXPECT_FALSE(v.missing);  // only S3's NoSuchKey says the object is missing
  EXPECT_NE(v.error.find("not an S3 answer (no body type)"), std::string::npos);
}

TEST(S3Error, Dates) {
  EXPECT_EQ(parse_http_date("Fri, 24 May 2013 00:00:00 GMT"), kSent);
  EXPECT_EQ(parse_iso8601("2013-05-24T00:00:00Z"), kSent);
  EXPECT_EQ(parse_iso8601("2013-05-24T00:00:00.123Z"), kSent);
  EXPECT_FALSE(parse_http_date("Friday, 24-May-13 00:00:00 GMT"));
  EXPECT_FALSE(parse_http_date("Fri, 24 Mai 2013 00:00:00 GMT"));
  EXPECT_FALSE(parse_iso8601("20130524T000000Z"));
  EXPECT_EQ(format_duration(std::chrono::seconds(42)), "42s");
  EXPECT_EQ(format_duration(std::chrono::seconds(1213)), "20m13s");
  EXPECT_EQ(format_duration(std::chrono::minutes(15)), "15m");
  EXPECT_EQ(format_duration(std::chrono::seconds(7320)), "2h02m");
  EXPECT_EQ(format_duration(std::chrono::hours(76)), "3d04h");
}

}  // namespace
}  // namespace molt::internal::s3
