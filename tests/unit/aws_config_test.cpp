// S3 settings resolution: S3Options, then the environment and ~/.aws files as AWS tools read them.
#include "fetchers/aws_config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "fetchers/aws_ini.hpp"

namespace molt::internal::s3 {
namespace {

namespace fs = std::filesystem;

class AwsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "molt-aws-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    home_ = pattern;
    fs::create_directories(home_ / ".aws");
    vars_["HOME"] = home_.string();
  }
  void TearDown() override { fs::remove_all(home_); }

  void write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  void credentials(const std::string& text) { write(home_ / ".aws/credentials", text); }
  void config(const std::string& text) { write(home_ / ".aws/config", text); }

  Env env() const {
    return [vars = vars_](const std::string& name) -> std::optional<std::string> {
      auto it = vars.find(name);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  }

  Settings resolve(const S3Options& options = {}) {
    std::string error;
    std::optional<Settings> settings = resolve_settings(options, env(), error);
    EXPECT_TRUE(settings) << error;
    return settings.value_or(Settings{});
  }

  std::string failure(const S3Options& options = {}) {
    std::string error;
    EXPECT_FALSE(resolve_settings(options, env(), error));
    EXPECT_EQ(error.find('\n'), std::string::npos) << "one line: " << error;
    return error;
  }

  fs::path home_;
  std::map<std::string, std::string> vars_;
};

TEST_F(AwsConfigTest, OptionsWinOverEnvironmentAndFiles) {
  vars_ = {{"HOME", home_.string()},
           {"AWS_ACCESS_KEY_ID", "ENVKEY"},
           {"AWS_SECRET_ACCESS_KEY", "envsecret"},
           {"AWS_REGION", "eu-west-1"},
           {"AWS_ENDPOINT_URL_S3", "http://env:9000"}};
  credentials("[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n");
  S3Options options;
  options.access_key_id = "OPTKEY";
  options.secret_access_key = "optsecret";
  options.session_token = "opttoken";
  options.region = "ap-south-1";
  options.endpoint = "https://minio.example:9000";
  Settings s = resolve(options);
  EXPECT_EQ(s.credentials.access_key_id, "OPTKEY");
  EXPECT_EQ(s.credentials.secret_access_key, "optsecret");
  EXPECT_EQ(s.credentials.session_token, "opttoken");
  EXPECT_EQ(s.credentials_origin, "the S3 options");
  EXPECT_EQ(s.region, "ap-south-1");
  EXPECT_EQ(s.endpoint, "https://minio.example:9000");
}

TEST_F(AwsConfigTest, EnvironmentKeysWithSessionToken) {
  vars_["AWS_ACCESS_KEY_ID"] = "ASIAENV";
  vars_["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  vars_["AWS_SESSION_TOKEN"] = "envtoken";
  credentials("[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n");
  Settings s = resolve();
  EXPECT_EQ(s.credentials.access_key_id, "ASIAENV");
  EXPECT_EQ(s.credentials.session_token, "envtoken");
  EXPECT_EQ(s.credentials_origin, "the environment");
  EXPECT_EQ(s.region, "us-east-1");
  EXPECT_EQ(s.endpoint, "");
}

TEST_F(AwsConfigTest, RegionOrder) {
  config("[default]\nregion = eu-central-1\n");
  vars_["AWS_ACCESS_KEY_ID"] = "K";
  vars_["AWS_SECRET_ACCESS_KEY"] = "S";
  EXPECT_EQ(resolve().region, "eu-central-1");
  vars_["AWS_DEFAULT_REGION"] = "eu-west-2";
  EXPECT_EQ(resolve().region, "eu-west-2");
  vars_["AWS_REGION"] = "eu-west-3";
  EXPECT_EQ(resolve().region, "eu-west-3");
  S3Options options;
  options.region = "sa-east-1";
  EXPECT_EQ(resolve(options).region, "sa-east-1");
}

TEST_F(AwsConfigTest, DefaultProfileFromTheCredentialsFile) {
  credentials(
      "# keys\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = sec/ret+=\n"
      "aws_session_token = tok\n");
  Settings s = resolve();
  EXPECT_EQ(s.credentials.access_key_id, "AKIDDEFAULT");
  EXPECT_EQ(s.credentials.secret_access_key, "sec/ret+=");
  EXPECT_EQ(s.credentials.session_token, "tok");
  EXPECT_EQ(s.credentials_origin,
            "AWS profile 'default' in " + (home_ / ".aws/credentials").string());
}

TEST_F(AwsConfigTest, AwsProfileSelectsSectionsInBothFiles) {
  vars_["AWS_PROFILE"] = "ci";
  credentials(
      "[default]\naws_access_key_id = WRONG\naws_secret_access_key = wrong\n"
      "[ci]\naws_access_key_id = AKIDCI\naws_secret_access_key = cisecret\n");
  config("[default]\nregion = us-west-1\n[profile ci]\nregion = eu-north-1\n");
  Settings s = resolve();
  EXPECT_EQ(s.credentials.access_key_id, "AKIDCI");
  EXPECT_EQ(s.region, "eu-north-1");
}

TEST_F(AwsConfigTest, ConfigFileKeysWhenTheCredentialsFileHasNone) {
  config("[profile  \"build box\"]\naws_access_key_id = AKIDCONF\naws_secret_access_key = c\n");
  S3Options options;
  options.profile = "build box";
  Settings s = resolve(options);
  EXPECT_EQ(s.credentials.access_key_id, "AKIDCONF");
  EXPECT_EQ(s.credentials_origin, "AWS profile 'build box' in " + (home_ / ".aws/config").string());
}

TEST_F(AwsConfigTest, CredentialsFileOverridesConfigFile) {
  credentials("[default]\naws_access_key_id = FROMCREDS\naws_secret_access_key = a\n");
  config("[default]\naws_access_key_id = FROMCONFIG\naws_secret_access_key = b\n");
  EXPECT_EQ(resolve().credentials.access_key_id, "FROMCREDS");
}

TEST_F(AwsConfigTest, EnvironmentKeysBeatAwsProfileButNotAnExplicitProfile) {
  credentials("[ci]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n");
  vars_["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  vars_["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  vars_["AWS_PROFILE"] = "ci";
  EXPECT_EQ(resolve().credentials.access_key_id, "ENVKEY");
  S3Options options;
  options.profile = "ci";
  EXPECT_EQ(resolve(options).credentials.access_key_id, "FILEKEY");
}

TEST_F(AwsConfigTest, FileLocationsFromTheEnvironment) {
  write(home_ / "elsewhere/creds",
        "[default]\naws_access_key_id = MOVED\naws_secret_access_key = m\n");
  write(home_ / "elsewhere/conf", "[default]\nregion = me-south-1\n");
  credentials("[default]\naws_access_key_id = HOMEKEY\naws_secret_access_key = h\n");
  vars_["AWS_SHARED_CREDENTIALS_FILE"] = "~/elsewhere/creds";
  vars_["AWS_CONFIG_FILE"] = (home_ / "elsewhere/conf").string();
  Settings s = resolve();
  EXPECT_EQ(s.credentials.access_key_id, "MOVED");
  EXPECT_EQ(s.region, "me-south-1");
}

TEST_F(AwsConfigTest, NoHomeAndNoFilesStillResolvesFromTheEnvironment) {
  vars_ = {{"AWS_ACCESS_KEY_ID", "K"}, {"AWS_SECRET_ACCESS_KEY", "S"}};
  EXPECT_EQ(resolve().credentials.access_key_id, "K");
}

TEST_F(AwsConfigTest, UnknownNamedProfileIsAnError) {
  vars_["AWS_PROFILE"] = "nope";
  EXPECT_EQ(failure(), "AWS profile 'nope' is in neither " + (home_ / ".aws/credentials").string() +
                           " nor " + (home_ / ".aws/config").string());
}

TEST_F(AwsConfigTest, NoCredentialsSaysWhereToPutThem) {
  std::string error = failure();
  EXPECT_NE(error.find("no AWS credentials"), std::string::npos) << error;
  EXPECT_NE(error.find("AWS_ACCESS_KEY_ID"), std::string::npos) << error;
  EXPECT_NE(error.find("anonymous"), std::string::npos) << error;
  vars_["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = "/v2/credentials/x";
  EXPECT_NE(failure().find("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is set"), std::string::npos);
}

TEST_F(AwsConfigTest, AnonymousReadsNoCredentials) {
  vars_["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  vars_["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  S3Options options;
  options.anonymous = true;
  Settings s = resolve(options);
  EXPECT_TRUE(s.credentials.anonymous());
  EXPECT_EQ(s.credentials.secret_access_key, "");
  EXPECT_EQ(s.credentials_origin, "anonymous");
  options.access_key_id = "K";
  options.secret_access_key = "S";
  EXPECT_NE(failure(options).find("anonymous"), std::string::npos);
}

TEST_F(AwsConfigTest, HalfAKeyPairIsAnErrorThatShowsNoSecret) {
  vars_["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  EXPECT_EQ(failure(), "the environment: AWS_SECRET_ACCESS_KEY without AWS_ACCESS_KEY_ID");
  vars_.erase("AWS_SECRET_ACCESS_KEY");
  credentials("[default]\naws_secret_access_key = filesecret\n");
  std::string error = failure();
  EXPECT_NE(error.find("aws_secret_access_key without aws_access_key_id"), std::string::npos);
  EXPECT_EQ(error.find("filesecret"), std::string::npos);
  S3Options options;
  options.secret_access_key = "optsecret";
  EXPECT_EQ(failure(options), "the S3 options: secret_access_key without access_key_id");
}

TEST_F(AwsConfigTest, EndpointPrecedence) {
  vars_["AWS_ACCESS_KEY_ID"] = "K";
  vars_["AWS_SECRET_ACCESS_KEY"] = "S";
  config(
      "[default]\nendpoint_url = http://profile:1\nservices = local\n"
      "[services local]\ns3 =\n  endpoint_url = http://services-s3:2\n"
      "dynamodb =\n  endpoint_url = http://ddb:9\n");
  EXPECT_EQ(resolve().endpoint, "http://services-s3:2");
  vars_["AWS_ENDPOINT_URL"] = "http://env-global:3";
  EXPECT_EQ(resolve().endpoint, "http://env-global:3");
  vars_["AWS_ENDPOINT_URL_S3"] = "http://env-s3:4";
  EXPECT_EQ(resolve().endpoint, "http://env-s3:4");
  S3Options options;
  options.endpoint = "http://options:5";
  EXPECT_EQ(resolve(options).endpoint, "http://options:5");
  vars_["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "TRUE";
  EXPECT_EQ(resolve().endpoint, "");
  EXPECT_EQ(resolve(options).endpoint, "http://options:5");
}

TEST_F(AwsConfigTest, EndpointFromTheProfileAndItsIgnoreSetting) {
  vars_["AWS_ACCESS_KEY_ID"] = "K";
  vars_["AWS_SECRET_ACCESS_KEY"] = "S";
  config("[default]\nendpoint_url = http://profile:1\n");
  EXPECT_EQ(resolve().endpoint, "http://profile:1");
  config("[default]\nendpoint_url = http://profile:1\nignore_configured_endpoint_urls = true\n");
  EXPECT_EQ(resolve().endpoint, "");
  vars_["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "false";  // the environment decides first
  EXPECT_EQ(resolve().endpoint, "http://profile:1");
}

TEST_F(AwsConfigTest, AddressingStyle) {
  vars_["AWS_ACCESS_KEY_ID"] = "K";
  vars_["AWS_SECRET_ACCESS_KEY"] = "S";
  EXPECT_EQ(resolve().style, S3Options::Style::kAuto);
  config("[default]\ns3 =\n    addressing_style = path\n    signature_version = s3v4\n");
  EXPECT_EQ(resolve().style, S3Options::Style::kPath);
  S3Options options;
  options.style = S3Options::Style::kVirtualHosted;
  EXPECT_EQ(resolve(options).style, S3Options::Style::kVirtualHosted);
  config("[default]\ns3 =\n  addressing_style = sideways\n");
  EXPECT_NE(failure().find("addressing_style must be auto, virtual or path"), std::string::npos);
}

TEST_F(AwsConfigTest, RoleProfilesAreRefusedByName) {
  config("[profile admin]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = default\n");
  credentials("[admin]\naws_access_key_id = K\naws_secret_access_key = S\n");
  S3Options options;
  options.profile = "admin";
  EXPECT_NE(failure(options).find("through role_arn, which molt does not support"),
            std::string::npos);
}

TEST_F(AwsConfigTest, CredentialProcessYieldsToStaticKeys) {
  config("[default]\ncredential_process = /bin/get-keys\n");
  EXPECT_NE(failure().find("credential_process"), std::string::npos);
  credentials("[default]\naws_access_key_id = K\naws_secret_access_key = S\n");
  EXPECT_EQ(resolve().credentials.access_key_id, "K");
}

TEST_F(AwsConfigTest, UnreadableFileIsAnError) {
  fs::create_directories(home_ / ".aws/credentials");
  EXPECT_NE(failure().find("cannot read " + (home_ / ".aws/credentials").string()),
            std::string::npos);
}

TEST(AwsIni, PythonConfigParserRules) {
  std::string error;
  auto ini = parse_ini(
      "; comment\n"
      "[default]\n"
      "Region: eu-west-3\n"
      "note = a # not a comment\n"
      "multi = first\n"
      "  second\n"
      "\n"
      "[profile x]\r\n"
      "s3 =\r\n"
      "  addressing_style = path\r\n",
      "cfg", error);
  ASSERT_TRUE(ini) << error;
  EXPECT_EQ((*ini)["default"]["region"], "eu-west-3");
  EXPECT_EQ((*ini)["default"]["note"], "a # not a comment");
  EXPECT_EQ((*ini)["default"]["multi"], "first\nsecond");
  EXPECT_EQ((*ini)["profile x"]["s3.addressing_style"], "path");
}

TEST(AwsIni, ErrorsGiveTheLineNumberNotTheLine) {
  std::string error;
  EXPECT_FALSE(parse_ini("[default]\naws_secret_access_key\n", "creds", error));
  EXPECT_EQ(error, "creds:2: expected 'name = value'");
  EXPECT_FALSE(parse_ini("key = v\n", "creds", error));
  EXPECT_EQ(error, "creds:1: a setting before any [section]");
  EXPECT_FALSE(parse_ini("[default]\ns3 =\n  hunter2secret\n", "cfg", error));
  EXPECT_EQ(error.find("hunter2"), std::string::npos);
}

TEST(AwsIni, MissingFileIsEmpty) {
  std::string error;
  auto ini = read_ini("/nonexistent/molt/credentials", error);
  ASSERT_TRUE(ini) << error;
  EXPECT_TRUE(ini->empty());
}

}  // namespace
}  // namespace molt::internal::s3
