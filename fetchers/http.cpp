#include "fetchers/http.hpp"

#include <utility>

#include "fetchers/curl_api.hpp"
#include "fetchers/transfer.hpp"

namespace molt::internal {
namespace {

// ("https://x/app?token=t", ".minisig") -> "https://x/app.minisig?token=t": a presigned or
// tokened URL keeps its query on the signature and the patches too.
std::string sibling_url(const std::string& url, const std::string& suffix) {
  std::size_t path_start = url.find("://");
  path_start = path_start == std::string::npos ? 0 : path_start + 3;
  std::size_t query = url.find_first_of("?#", path_start);
  if (query == std::string::npos) return url + suffix;
  return url.substr(0, query) + suffix + url.substr(query);
}

// Whether the response's Last-Modified is no earlier than its Date. libcurl parses both dates: a
// response came through it, so it is loaded; were it not, say yes (keeping no validators is safe).
bool modified_this_second(const TransferResult& response) {
  if (response.last_modified.empty() || response.date.empty()) return false;
  const CurlLoad& libcurl = curl_api();
  if (!libcurl.ok()) return true;
  return libcurl.api.getdate(response.last_modified.c_str(), nullptr) >=
         libcurl.api.getdate(response.date.c_str(), nullptr);
}

}  // namespace

HttpFetcher::HttpFetcher(std::string url, HttpOptions options)
    : url_(std::move(url)),
      signature_url_(sibling_url(url_, ".minisig")),
      options_(std::move(options)) {}

std::string HttpFetcher::describe() const { return redact_url(url_); }

FetchResult HttpFetcher::poll(const Validator& since, Sink& sink) {
  return fetch(signature_url_, since, sink);
}

FetchResult HttpFetcher::download(const Validator& since, Sink& sink) {
  return fetch(url_, since, sink);
}

void HttpFetcher::load_ahead() { load_transfer_library(); }

FetchResult HttpFetcher::fetch_patch(const std::string& name, Sink& sink) {
  std::string escaped;  // a name holds [A-Za-z0-9._-] and %XX: the % itself is escaped in a URL
  for (char c : name) escaped += c == '%' ? std::string("%25") : std::string(1, c);
  return fetch(sibling_url(url_, ".patch/" + escaped), {}, sink);
}

FetchResult HttpFetcher::fetch(const std::string& url, const Validator& since, Sink& sink) const {
  TransferRequest request;
  request.url = url;
  request.since = since;
  TransferResult response = transfer(request, options_, sink);
  FetchResult result;
  if (!response.ok()) {
    result.error = std::move(response.error);
  } else if (response.status == 304) {
    result.status = FetchResult::Status::kNotModified;
    result.validator = since;
  } else if (response.status == 404) {
    result.status = FetchResult::Status::kMissing;
  } else if (response.status == 200) {  // not 206: a part of an artifact is no artifact
    result.status = FetchResult::Status::kChanged;
    // Servers such as nginx derive ETag and Last-Modified from a whole-second mtime: an object
    // replaced within the second it was served would look unchanged for ever. Such validators
    // are not kept, so the next poll asks unconditionally (the signature is small).
    if (!modified_this_second(response)) {
      result.validator = {std::move(response.etag), std::move(response.last_modified)};
    }
  } else {
    result.error = redact_url(url) + ": " + response.status_line();
  }
  return result;
}

std::unique_ptr<Fetcher> make_http_fetcher(const std::string& url, const HttpOptions& options) {
  return std::make_unique<HttpFetcher>(url, options);
}

}  // namespace molt::internal
