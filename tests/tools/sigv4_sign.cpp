// Lets tests/e2e/test_sigv4_botocore.py drive molt's SigV4 signer.
//
// stdin: one JSON request, or an array of them:
//   {"method": "GET", "host": "b.s3.amazonaws.com", "path": "/raw key", "query": [["n", "v"]],
//    "headers": [["Range", "bytes=0-9"]], "access_key_id": "...", "secret_access_key": "...",
//    "session_token": "", "region": "us-east-1", "service": "s3", "time": 1369353600,
//    "payload_hash": "UNSIGNED-PAYLOAD"}
// stdout: one Authorization header value per request; with --explain, one JSON object per line
// with "authorization", "canonical_request", "string_to_sign" and the "headers" sent.
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "fetchers/sigv4.hpp"

namespace {

using molt::internal::s3::Param;
using nlohmann::json;

std::vector<Param> pairs(const json& request, const char* field) {
  std::vector<Param> out;
  for (const json& pair : request.value(field, json::array())) {
    out.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
  }
  return out;
}

json sign_one(const json& in) {
  molt::internal::s3::Request request{in.at("method"), in.at("host"), in.at("path"),
                                      pairs(in, "query"), pairs(in, "headers")};
  molt::internal::s3::Credentials credentials{in.at("access_key_id"), in.at("secret_access_key"),
                                              in.value("session_token", "")};
  auto time = molt::internal::s3::Clock::from_time_t(in.at("time").get<std::time_t>());
  std::string payload_hash =
      in.value("payload_hash", std::string(molt::internal::s3::kUnsignedPayload));

  molt::internal::s3::add_amz_headers(request, credentials, time, payload_hash);
  molt::internal::s3::Signature s = molt::internal::s3::sign(
      request, credentials, in.at("region").get<std::string>(), in.value("service", "s3"), time);
  json headers = json::array();
  for (const auto& [name, value] : request.headers) headers.push_back({name, value});
  return {{"authorization", s.authorization},
          {"canonical_request", s.canonical_request},
          {"string_to_sign", s.string_to_sign},
          {"headers", headers}};
}

}  // namespace

int main(int argc, char** argv) {
  bool explain = argc > 1 && std::strcmp(argv[1], "--explain") == 0;
  try {
    json input = json::parse(std::cin);
    if (!input.is_array()) input = json::array({input});
    for (const json& request : input) {
      json out = sign_one(request);
      std::cout << (explain ? out.dump() : out["authorization"].get<std::string>()) << '\n';
    }
  } catch (const json::exception& e) {
    std::cerr << "sigv4_sign: bad request description: " << e.what() << '\n';
    return 2;
  }
  return 0;
}
