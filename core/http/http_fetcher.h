// HTTP(S) GETs and POSTs (the monitor, the witness and the server's
// witness client), on libcurl: keep-alive connections
// reused across requests, HTTP/2 where the server offers it, gzip, bounded
// bodies, timeouts, TLS with the system CAs or a CA file, and several
// requests in flight on one thread (curl's multi interface).
//
// Thread-compatible: one HttpFetcher per thread (it owns its connections).
#ifndef INFRATRAIL_CORE_HTTP_HTTP_FETCHER_H_
#define INFRATRAIL_CORE_HTTP_HTTP_FETCHER_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace infratrail {

struct HttpFetcherOptions {
  // Whole-request deadline (connect, send, wait, receive).
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds connect_timeout{10000};
  // A transfer slower than `low_speed_bytes` per second for `low_speed_time`
  // is aborted (slow-drip servers), as DeadlineExceeded.
  long low_speed_bytes = 1024;
  std::chrono::seconds low_speed_time{10};
  // PEM CA bundle; empty = the system's CAs.
  std::string ca_file;
  // Redirects followed per request (0 = none). Never from https to http.
  int max_redirects = 3;
  // Requests in flight at once in GetMany.
  int max_in_flight = 16;
  std::string user_agent = "infratrail-verifier";
  // Polled while a transfer runs (a few times a second, and as bytes move);
  // true aborts it with Cancelled. So a process that is stopping need not
  // wait out a slow server's timeout.
  std::function<bool()> cancelled;
};

struct HttpResponse {
  long status = 0;           // HTTP status code
  std::string content_type;  // as sent, empty if none
  std::string body;          // decoded (gzip undone)
};

// One request of GetMany: `url`, and the largest body accepted.
struct HttpGet {
  std::string url;
  size_t max_body_bytes = 0;
};

class HttpFetcher {
 public:
  // InvalidArgument if libcurl refuses an option (e.g. an unreadable CA
  // file is reported by the first request instead).
  static absl::StatusOr<std::unique_ptr<HttpFetcher>> Create(const HttpFetcherOptions& options);
  ~HttpFetcher();
  HttpFetcher(const HttpFetcher&) = delete;
  HttpFetcher& operator=(const HttpFetcher&) = delete;

  // GET `url`. Any HTTP status is a successful HttpResponse (the caller
  // decides what 404 or 503 mean). Errors, each naming the URL:
  //   ResourceExhausted  the body (after decoding) exceeds max_body_bytes
  //   DeadlineExceeded   timeout, or slower than the low-speed limit
  //   Unavailable        DNS, connect, TLS, reset, truncated transfer,
  //                      too many redirects or a refused redirect
  //   InvalidArgument    a malformed or unsupported URL
  //   Cancelled          options.cancelled returned true
  absl::StatusOr<HttpResponse> Get(const std::string& url, size_t max_body_bytes);

  // Called on the calling thread as each request of GetMany ends, with its
  // index and its result (which the callee may consume), while the other
  // transfers wait in their sockets: work on one response overlaps the
  // network time of the rest.
  using OnResponse = std::function<void(size_t index, absl::StatusOr<HttpResponse>& result)>;

  // The GETs of `requests`, up to options.max_in_flight at once over reused
  // connections; results in the order of `requests`, each as Get's, each
  // handed to `on_response` (if set) first.
  std::vector<absl::StatusOr<HttpResponse>> GetMany(absl::Span<const HttpGet> requests,
                                                    const OnResponse& on_response = nullptr);

  // POST `body` with `content_type` (webhooks); errors as Get's.
  absl::StatusOr<HttpResponse> Post(const std::string& url, const std::string& body,
                                    const std::string& content_type, size_t max_body_bytes);

 private:
  struct Impl;
  explicit HttpFetcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_HTTP_HTTP_FETCHER_H_
