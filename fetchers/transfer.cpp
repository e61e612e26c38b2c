#include "fetchers/transfer.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <memory>
#include <molt/version.hpp>
#include <optional>
#include <string_view>
#include <type_traits>

#include "fetchers/curl_api.hpp"
#include "fetchers/http_exchange.hpp"
#include "fetchers/http_text.hpp"
#include "util/log.hpp"

namespace molt::internal {
namespace {

constexpr char kUserAgent[] = "molt/" MOLT_VERSION_STRING;
constexpr long kReceiveBuffer = 512 * 1024;

using CurlHandle = std::unique_ptr<CURL, decltype(&::curl_easy_cleanup)>;
using HeaderList = std::unique_ptr<curl_slist, decltype(&::curl_slist_free_all)>;

// An easy handle and the loaded library it belongs to. set() and get() pass their argument to
// the variadic curl_easy_setopt / curl_easy_getinfo with its own type (long stays long).
struct Easy {
  const CurlApi& api;
  CURL* handle;

  template <typename T>
  void set(CURLoption option, T value) const {
    // curl reads a number option as a long (or a curl_off_t): an int or a bool would be read
    // from the wrong width, as with curl_easy_setopt itself.
    static_assert(!std::is_integral_v<T> || std::is_same_v<T, long> ||
                  std::is_same_v<T, curl_off_t>);
    api.easy_setopt(handle, option, value);
  }
  template <typename T>
  void get(CURLINFO info, T* out) const {
    api.easy_getinfo(handle, info, out);
  }
};

// One easy handle per thread, reset before each transfer. curl_easy_reset keeps the handle's
// connection cache, so the check helper, which lives between polls, polls over one kept
// connection, and an HTTPS poll costs no new TLS handshake. Only the check helper transfers,
// so none of this ever lives in the master (which never even loads libcurl).
CURL* reusable_handle(const CurlApi& api) {
  static thread_local CurlHandle handle(api.easy_init(), api.easy_cleanup);
  if (handle) api.easy_reset(handle.get());
  return handle.get();
}

std::size_t header_callback(char* data, std::size_t size, std::size_t count, void* self) {
  auto* exchange = static_cast<HttpExchange*>(self);
  return exchange->on_header(std::string_view(data, size * count)) ? size * count : 0;
}

int progress_callback(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<HttpExchange*>(self)->on_progress() ? 0 : 1;
}

std::size_t write_callback(char* data, std::size_t size, std::size_t count, void* self) {
  auto* exchange = static_cast<HttpExchange*>(self);
  return exchange->on_body(data, size * count) ? size * count : 0;
}

// Says why curl gave up, in words about the transfer rather than about curl.
std::string explain(const Easy& curl, CURLcode rc, const char* curl_error,
                    const HttpExchange& exchange, const HttpOptions& options) {
  std::string detail = curl_error[0] ? curl_error : curl.api.easy_strerror(rc);
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: {
      curl_off_t connected = 0;
      curl.get(CURLINFO_CONNECT_TIME_T, &connected);
      if (connected == 0) {
        Duration limit = options.connect_timeout;
        if (limit.count() == 0 || options.total_timeout < limit) limit = options.total_timeout;
        return "no connection after " + seconds(limit);
      }
      if (detail.starts_with("Operation too slow")) return stalled(options);
      return "not finished after " + seconds(options.total_timeout) + " (total_timeout)";
    }
    case CURLE_PARTIAL_FILE:
      if (exchange.content_length()) {
        return "body ended after " + std::to_string(exchange.received()) + " of " +
               std::to_string(*exchange.content_length()) + " bytes";
      }
      return "body ended early";
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return "TLS: " + detail;
    default:
      return detail;
  }
}

void set_limits(const Easy& curl, const HttpOptions& options) {
  curl.set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  curl.set(CURLOPT_TIMEOUT_MS, static_cast<long>(options.total_timeout.count()));
  // No CURLOPT_LOW_SPEED_*: curl averages the speed over its window, so a byte every 3 s read
  // as a stall of a 5 s limit (below 1 byte/s). HttpExchange::on_progress counts from the last
  // byte instead; curl calls it at least once a second.
}

void set_security(const Easy& curl, const HttpOptions& options) {
  curl.set(CURLOPT_PROTOCOLS_STR, "http,https");
  curl.set(CURLOPT_SSL_VERIFYPEER, 1L);
  curl.set(CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options.ca_file.empty()) curl.set(CURLOPT_CAINFO, options.ca_file.c_str());
}

// options.headers, then the request's own, then the conditional ones. The first two may carry
// credentials: they go only to the origin the request was made for (`at_origin`), never to
// where a redirect leads (libcurl itself would strip only Authorization and Cookie).
bool request_headers(const CurlApi& api, const TransferRequest& request, const HttpOptions& options,
                     bool at_origin, HeaderList& list, std::string& error) {
  std::vector<std::string> lines;
  if (at_origin) {
    if (!expand_headers(options.headers, lines, error)) return false;
    lines.insert(lines.end(), request.headers.begin(), request.headers.end());
  }
  if (auto condition = conditional_header(request.since)) {
    lines.push_back(condition->first + ": " + condition->second);
  }
  for (const std::string& line : lines) {
    curl_slist* next = api.slist_append(list.get(), line.c_str());
    if (!next) {
      error = "out of memory for request headers";
      return false;
    }
    list.release();
    list.reset(next);
  }
  return true;
}

void set_request(const Easy& curl, const TransferRequest& request, curl_slist* headers) {
  curl.set(CURLOPT_URL, request.url.c_str());
  if (request.method == "HEAD") {
    curl.set(CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl.set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl.set(CURLOPT_USERAGENT, kUserAgent);
  curl.set(CURLOPT_HTTPHEADER, headers);
}

void set_callbacks(const Easy& curl, HttpExchange& exchange, char* curl_error) {
  curl.set(CURLOPT_NOSIGNAL, 1L);
  curl.set(CURLOPT_ERRORBUFFER, curl_error);
  curl.set(CURLOPT_HEADERFUNCTION, &header_callback);
  curl.set(CURLOPT_HEADERDATA, &exchange);
  curl.set(CURLOPT_WRITEFUNCTION, &write_callback);
  curl.set(CURLOPT_WRITEDATA, &exchange);
  curl.set(CURLOPT_NOPROGRESS, 0L);
  curl.set(CURLOPT_XFERINFOFUNCTION, &progress_callback);
  curl.set(CURLOPT_XFERINFODATA, &exchange);
  // libcurl's default 16 KiB means one recv(2) per 16 KiB; a larger buffer means fewer calls
  // for a large download (the write callback still gets at most 16 KiB a call: StagedFile
  // gathers them; bench/RESULTS.md, "transfer"). The buffer lives only in the check helper.
  curl.set(CURLOPT_BUFFERSIZE, kReceiveBuffer);
}

// "https://host:port" of a URL, lower-cased, with the scheme's default port made explicit, so
// that two spellings of one origin compare equal.
std::string origin_of(std::string_view url) {
  std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  std::string scheme(url.substr(0, scheme_end));
  std::string_view rest = url.substr(scheme_end + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string host(authority);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::size_t bracket = host.rfind(']');
  std::size_t colon = host.rfind(':');
  if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket)) {
    host += scheme == "https" ? ":443" : ":80";
  }
  return scheme + "://" + host;
}

// One request/response on `url`; a redirect's target, if any, in `location`.
TransferResult perform_hop(const CurlApi& api, CURL* handle, const TransferRequest& request,
                           const HttpOptions& options, Sink& sink, const std::string& where,
                           bool at_origin, std::string& location) {
  TransferResult result;
  HeaderList headers(nullptr, api.slist_free_all);
  std::string why;
  if (!request_headers(api, request, options, at_origin, headers, why)) {
    result.error = where + ": " + why;
    return result;
  }
  api.easy_reset(handle);  // the previous hop's options go; its connection stays cached
  const Easy curl{api, handle};
  HttpExchange exchange(request, options, sink);
  char curl_error[CURL_ERROR_SIZE] = {};
  set_request(curl, request, headers.get());
  set_callbacks(curl, exchange, curl_error);
  set_limits(curl, options);
  set_security(curl, options);
  CURLcode rc = api.easy_perform(handle);
  if (rc == CURLE_OK) exchange.finish();
  result = std::move(exchange.result());
  if (!exchange.failure().empty()) {
    result.error = where + ": " + exchange.failure();
  } else if (rc != CURLE_OK) {
    result.error = where + ": " + explain(curl, rc, curl_error, exchange, options);
  } else if (result.status >= 300 && result.status < 400 && result.status != 304) {
    char* target = nullptr;
    curl.get(CURLINFO_REDIRECT_URL, &target);
    location = target ? target : "";
  }
  return result;
}

// transfer() once libcurl is loaded; `where` is the redacted URL. Redirects are followed here,
// hop by hop, so that each hop decides which headers it may carry.
TransferResult perform(const CurlApi& api, const TransferRequest& request,
                       const HttpOptions& options, Sink& sink, const std::string& where) {
  CURL* handle = reusable_handle(api);
  if (!handle) return TransferResult{.error = where + ": cannot initialise libcurl"};
  const std::string origin = origin_of(request.url);
  TransferRequest hop = request;
  for (int redirects = 0;; ++redirects) {
    std::string location;
    TransferResult result =
        perform_hop(api, handle, hop, options, sink, where, origin_of(hop.url) == origin, location);
    if (location.empty() || options.max_redirects <= 0) return result;
    if (redirects >= options.max_redirects) {
      result.error = where + ": more than " + std::to_string(options.max_redirects) +
                     " redirects (max_redirects)";
      return result;
    }
    // Once on https, stay there: a redirect to http would drop the transport's integrity.
    bool allowed =
        is_https(location) || (!is_https(request.url) && istarts_with(location, "http://"));
    if (!allowed) {
      result.error = where + ": refused redirect from " +
                     std::string(is_https(request.url) ? "https" : "http") + " to " +
                     redact_url(location);
      return result;
    }
    hop.url = location;
  }
}

}  // namespace

std::string TransferResult::status_line() const {
  std::string line = std::to_string(status);
  if (!reason.empty()) line += " " + reason;
  return line;
}

std::optional<std::pair<std::string, std::string>> conditional_header(const Validator& since) {
  if (!since.etag.empty()) return std::pair{std::string("If-None-Match"), since.etag};
  if (!since.last_modified.empty()) {
    return std::pair{std::string("If-Modified-Since"), since.last_modified};
  }
  return std::nullopt;
}

TransferResult transfer(const TransferRequest& request, const HttpOptions& options, Sink& sink) {
  const std::string where = redact_url(request.url);
  TransferResult result;
  // The first transfer in a process loads libcurl; a failure to load fails every transfer.
  const CurlLoad& libcurl = curl_api();
  if (!libcurl.ok()) {
    result.error = where + ": " + libcurl.error;
  } else {
    result = perform(libcurl.api, request, options, sink, where);
  }
  logger().debug("{} {}: {} ({} bytes){}", request.method, where, result.status_line(),
                 result.body_size, result.ok() ? "" : ", failed");
  return result;
}

void load_transfer_library() { (void)curl_api(); }

}  // namespace molt::internal
