#include "core/http/http_fetcher.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <mutex>
#include <type_traits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace infratrail {
namespace {

// curl_global_init is not thread-safe and must run before any other curl
// call; it is never undone (curl_global_cleanup would race with any other
// user of libcurl in the process, and the process exits soon enough).
absl::Status InitCurlOnce() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result != CURLE_OK) {
    return absl::InternalError(
        absl::StrCat("curl_global_init failed: ", curl_easy_strerror(result)));
  }
  return absl::OkStatus();
}

// One request as Run sees it: a GET, or a POST when post_body is set.
struct Request {
  const std::string* url = nullptr;
  size_t max_body_bytes = 0;
  const std::string* post_body = nullptr;
  const std::string* content_type = nullptr;
};

// The state of one request while its easy handle is in the multi handle.
// Heap-allocated so that the pointers curl keeps (WRITEDATA, PRIVATE,
// ERRORBUFFER) stay valid while other transfers come and go.
struct Transfer {
  Transfer() = default;
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer() { curl_slist_free_all(headers); }

  size_t index = 0;
  const char* method = "GET";
  std::string url;
  size_t max_body_bytes = 0;
  bool over_limit = false;  // the write callback refused the body
  HttpResponse response;
  curl_slist* headers = nullptr;
  CURL* easy = nullptr;
  char error[CURL_ERROR_SIZE] = {};
};

// The body bound is enforced here rather than only through
// CURLOPT_MAXFILESIZE because that sees only Content-Length (absent when
// chunked) and the encoded size, while the limit is on the decoded body.
size_t WriteBody(char* data, size_t size, size_t nmemb, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  const size_t n = size * nmemb;
  if (n > t->max_body_bytes - t->response.body.size()) {
    t->over_limit = true;
    return 0;  // curl aborts the transfer with CURLE_WRITE_ERROR
  }
  // Reserving the announced length once spares the reallocations (and
  // their copies and page faults) of a growing string: bundles are ~80 KiB.
  if (t->response.body.empty()) {
    curl_off_t length = -1;
    if (curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK &&
        length > 0) {
      t->response.body.reserve(std::min<size_t>(static_cast<size_t>(length), t->max_body_bytes));
    }
  }
  t->response.body.append(data, n);
  return n;
}

// The one place where a failed transfer becomes a Status. `redirects` is how
// many redirects were followed before the failure.
absl::Status TransferError(CURLcode code, const Transfer& t, long redirects) {
  // The error buffer has the specifics (host, errno, TLS alert); strerror
  // names the class of failure.
  const std::string detail = t.error[0] != '\0'
                                 ? absl::StrCat(t.error, " (", curl_easy_strerror(code), ")")
                                 : std::string(curl_easy_strerror(code));
  const std::string what = absl::StrCat(t.method, " ", t.url, ": ", detail);
  if ((code == CURLE_WRITE_ERROR && t.over_limit) || code == CURLE_FILESIZE_EXCEEDED) {
    return absl::ResourceExhaustedError(absl::StrCat(t.method, " ", t.url, ": body exceeds ",
                                                     t.max_body_bytes, " bytes (", detail, ")"));
  }
  switch (code) {
    case CURLE_ABORTED_BY_CALLBACK:
      return absl::CancelledError(what);
    case CURLE_OPERATION_TIMEDOUT:  // also the low-speed limit
      return absl::DeadlineExceededError(what);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      // The caller's URL is at fault only if it was the one refused; a
      // Location header that is malformed or leaves http(s) (or https for
      // http) is the server's doing, like any other server failure.
      if (redirects == 0) return absl::InvalidArgumentError(what);
      return absl::UnavailableError(absl::StrCat(what, " after ", redirects, " redirect(s)"));
    default:
      return absl::UnavailableError(what);
  }
}

// CURLOPT_XFERINFOFUNCTION: non-zero aborts the transfer.
int CheckCancelled(void* clientp, curl_off_t /*dltotal*/, curl_off_t /*dlnow*/,
                   curl_off_t /*ultotal*/, curl_off_t /*ulnow*/) {
  return (*static_cast<const std::function<bool()>*>(clientp))() ? 1 : 0;
}

// curl_easy_setopt is variadic: an int where curl reads a long, or a long
// where it reads a curl_off_t, is undefined behaviour that compiles. The
// static_assert keeps every call to the three types curl reads. The first
// refusal is kept, naming the option.
class OptionSetter {
 public:
  explicit OptionSetter(CURL* easy) : easy_(easy) {}

  template <typename T>
  void Set(CURLoption option, T value, const char* name) {
    static_assert(std::is_same_v<T, long> || std::is_same_v<T, curl_off_t> || std::is_pointer_v<T>,
                  "curl_easy_setopt takes long, curl_off_t or a pointer");
    if (!status_.ok()) return;
    const CURLcode rc = curl_easy_setopt(easy_, option, value);
    if (rc != CURLE_OK) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat("libcurl refused ", name, ": ", curl_easy_strerror(rc)));
    }
  }

  const absl::Status& status() const { return status_; }

 private:
  CURL* easy_;
  absl::Status status_;
};

// Slack over max_body_bytes for the Content-Length check: Content-Length is
// the encoded size, which for tiny or incompressible bodies is a little larger
// than the decoded one (gzip header and trailer, deflate's stored blocks).
// Only clearly oversized bodies are refused early; the write callback has
// the exact limit.
curl_off_t EarlyRefusalLimit(size_t max_body_bytes) {
  constexpr size_t kMax = static_cast<size_t>(std::numeric_limits<curl_off_t>::max());
  const size_t slack = max_body_bytes / 16 + 4096;
  if (max_body_bytes > kMax - slack) return 0;  // no early refusal
  return static_cast<curl_off_t>(max_body_bytes + slack);
}

}  // namespace

struct HttpFetcher::Impl {
  explicit Impl(const HttpFetcherOptions& o) : options(o) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    for (CURL* easy : idle) curl_easy_cleanup(easy);
    if (multi != nullptr) curl_multi_cleanup(multi);
  }

  absl::Status ApplyCommonOptions(OptionSetter& set) const;
  absl::Status Start(Transfer& t, const Request& r);
  absl::StatusOr<HttpResponse> Finish(Transfer& t, CURLcode code);
  std::vector<absl::StatusOr<HttpResponse>> Run(absl::Span<const Request> requests,
                                                const OnResponse& on_response = nullptr);
  CURL* Acquire();
  void Release(CURL* easy);

  const HttpFetcherOptions options;
  bool http2 = false;  // libcurl was built with HTTP/2
  CURLM* multi = nullptr;
  // Idle easy handles. Connections live in the multi handle's cache, so any
  // handle reuses any connection; reusing handles also keeps their DNS and
  // TLS session caches.
  std::vector<CURL*> idle;
};

absl::Status HttpFetcher::Impl::ApplyCommonOptions(OptionSetter& set) const {
  set.Set(CURLOPT_NOSIGNAL, 1L, "CURLOPT_NOSIGNAL");  // no SIGALRM in a threaded process
  set.Set(CURLOPT_ACCEPT_ENCODING, "", "CURLOPT_ACCEPT_ENCODING");  // all built-in decoders
  if (http2) {
    set.Set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS),
            "CURLOPT_HTTP_VERSION");
  }
  set.Set(CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()), "CURLOPT_TIMEOUT_MS");
  set.Set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()),
          "CURLOPT_CONNECTTIMEOUT_MS");
  set.Set(CURLOPT_LOW_SPEED_LIMIT, options.low_speed_bytes, "CURLOPT_LOW_SPEED_LIMIT");
  set.Set(CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.low_speed_time.count()),
          "CURLOPT_LOW_SPEED_TIME");
  if (!options.ca_file.empty()) set.Set(CURLOPT_CAINFO, options.ca_file.c_str(), "CURLOPT_CAINFO");
  // Never file://, ftp:// and the rest, whatever the URL or a redirect says.
  set.Set(CURLOPT_PROTOCOLS_STR, "http,https", "CURLOPT_PROTOCOLS_STR");
  set.Set(CURLOPT_USERAGENT, options.user_agent.c_str(), "CURLOPT_USERAGENT");
  set.Set(CURLOPT_TCP_KEEPALIVE, 1L, "CURLOPT_TCP_KEEPALIVE");
  if (options.cancelled) {
    set.Set(CURLOPT_XFERINFOFUNCTION, &CheckCancelled, "CURLOPT_XFERINFOFUNCTION");
    set.Set(CURLOPT_XFERINFODATA, const_cast<std::function<bool()>*>(&options.cancelled),
            "CURLOPT_XFERINFODATA");
    set.Set(CURLOPT_NOPROGRESS, 0L, "CURLOPT_NOPROGRESS");
  }
  return set.status();
}

CURL* HttpFetcher::Impl::Acquire() {
  if (idle.empty()) return curl_easy_init();
  CURL* easy = idle.back();
  idle.pop_back();
  return easy;
}

void HttpFetcher::Impl::Release(CURL* easy) {
  // Reset drops every option, so that no pointer into a finished Transfer
  // (error buffer, write data) and no POST setting survives into the next
  // request; the handle's caches are kept.
  curl_easy_reset(easy);
  if (idle.size() < static_cast<size_t>(options.max_in_flight)) {
    idle.push_back(easy);
  } else {
    curl_easy_cleanup(easy);
  }
}

absl::Status HttpFetcher::Impl::Start(Transfer& t, const Request& r) {
  t.url = *r.url;
  t.max_body_bytes = r.max_body_bytes;
  t.method = r.post_body != nullptr ? "POST" : "GET";
  if (r.content_type != nullptr &&
      (absl::StrContains(*r.content_type, '\r') || absl::StrContains(*r.content_type, '\n'))) {
    // It would end the header and start another one of the caller's choosing.
    return absl::InvalidArgumentError(
        absl::StrCat(t.method, " ", t.url, ": content type contains a line break"));
  }
  t.easy = Acquire();
  if (t.easy == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat(t.method, " ", t.url, ": curl_easy_init"));
  }
  OptionSetter set(t.easy);
  ApplyCommonOptions(set).IgnoreError();  // the setter keeps the first error
  set.Set(CURLOPT_URL, t.url.c_str(), "CURLOPT_URL");
  set.Set(CURLOPT_ERRORBUFFER, &t.error[0], "CURLOPT_ERRORBUFFER");
  set.Set(CURLOPT_PRIVATE, &t, "CURLOPT_PRIVATE");
  set.Set(CURLOPT_WRITEFUNCTION, &WriteBody, "CURLOPT_WRITEFUNCTION");
  set.Set(CURLOPT_WRITEDATA, &t, "CURLOPT_WRITEDATA");
  if (const curl_off_t limit = EarlyRefusalLimit(t.max_body_bytes); limit > 0) {
    set.Set(CURLOPT_MAXFILESIZE_LARGE, limit, "CURLOPT_MAXFILESIZE_LARGE");
  }
  if (r.post_body == nullptr && options.max_redirects > 0) {
    set.Set(CURLOPT_FOLLOWLOCATION, 1L, "CURLOPT_FOLLOWLOCATION");
    set.Set(CURLOPT_MAXREDIRS, static_cast<long>(options.max_redirects), "CURLOPT_MAXREDIRS");
    // A redirect must not downgrade https to cleartext.
    set.Set(CURLOPT_REDIR_PROTOCOLS_STR,
            absl::StartsWithIgnoreCase(t.url, "https://") ? "https" : "http,https",
            "CURLOPT_REDIR_PROTOCOLS_STR");
  }
  if (r.post_body != nullptr) {
    // A webhook is not re-sent to wherever a redirect points (no
    // FOLLOWLOCATION above): the caller sees the 3xx.
    set.Set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.post_body->size()),
            "CURLOPT_POSTFIELDSIZE_LARGE");
    // curl's own copy: the size above makes it binary-safe.
    set.Set(CURLOPT_COPYPOSTFIELDS, r.post_body->data(), "CURLOPT_COPYPOSTFIELDS");
    // An empty value removes curl's default form type. "Expect:" stops curl
    // waiting up to a second for a "100 Continue" many servers never send.
    const std::string type_header =
        r.content_type->empty() ? "Content-Type:" : absl::StrCat("Content-Type: ", *r.content_type);
    for (const char* header : {type_header.c_str(), "Expect:"}) {
      curl_slist* appended = curl_slist_append(t.headers, header);
      if (appended == nullptr) {
        Release(t.easy);
        t.easy = nullptr;
        return absl::ResourceExhaustedError(absl::StrCat(t.method, " ", t.url, ": curl_slist"));
      }
      t.headers = appended;
    }
    set.Set(CURLOPT_HTTPHEADER, t.headers, "CURLOPT_HTTPHEADER");
  }
  absl::Status status = set.status();
  if (status.ok()) {
    if (const CURLMcode mc = curl_multi_add_handle(multi, t.easy); mc != CURLM_OK) {
      status =
          absl::InternalError(absl::StrCat("curl_multi_add_handle: ", curl_multi_strerror(mc)));
    }
  }
  if (!status.ok()) {
    Release(t.easy);
    t.easy = nullptr;
    return absl::Status(status.code(), absl::StrCat(t.method, " ", t.url, ": ", status.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<HttpResponse> HttpFetcher::Impl::Finish(Transfer& t, CURLcode code) {
  // Read what is needed before the reset in Release clears it.
  long redirects = 0;
  long status = 0;
  const char* content_type = nullptr;
  curl_easy_getinfo(t.easy, CURLINFO_REDIRECT_COUNT, &redirects);
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(t.easy, CURLINFO_CONTENT_TYPE, &content_type);
  if (content_type != nullptr) t.response.content_type = content_type;
  curl_multi_remove_handle(multi, t.easy);
  Release(t.easy);
  t.easy = nullptr;
  if (code != CURLE_OK) return TransferError(code, t, redirects);
  t.response.status = status;
  return std::move(t.response);
}

std::vector<absl::StatusOr<HttpResponse>> HttpFetcher::Impl::Run(absl::Span<const Request> requests,
                                                                 const OnResponse& on_response) {
  std::vector<absl::StatusOr<HttpResponse>> results(requests.size(),
                                                    absl::InternalError("not started"));
  // The transfers in the multi handle, by request index.
  std::vector<std::unique_ptr<Transfer>> active(requests.size());
  size_t next = 0;
  size_t in_flight = 0;
  const size_t max_in_flight = static_cast<size_t>(options.max_in_flight);
  while (next < requests.size() || in_flight > 0) {
    // Top up to max_in_flight; each new handle takes an idle cached
    // connection if there is one, else opens a new one.
    while (in_flight < max_in_flight && next < requests.size()) {
      auto t = std::make_unique<Transfer>();
      t->index = next;
      if (absl::Status s = Start(*t, requests[next]); !s.ok()) {
        results[next] = std::move(s);
        if (on_response) on_response(next, results[next]);
      } else {
        active[next] = std::move(t);
        ++in_flight;
      }
      ++next;
    }
    if (in_flight == 0) continue;

    int running = 0;
    CURLMcode mc = curl_multi_perform(multi, &running);
    bool finished_any = false;
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      // msg is invalid once its handle is removed: copy what Finish needs.
      CURL* easy = msg->easy_handle;
      const CURLcode code = msg->data.result;
      void* priv = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
      Transfer* t = static_cast<Transfer*>(priv);
      const size_t index = t->index;
      results[index] = Finish(*t, code);
      active[index].reset();
      --in_flight;
      finished_any = true;
      if (on_response) on_response(index, results[index]);
    }
    if (mc == CURLM_OK && !finished_any && in_flight > 0) {
      // Sleeps until a socket is ready or curl's next timeout (the request
      // and low-speed deadlines among them) is due, whichever is first.
      mc = curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    }
    if (mc != CURLM_OK) {
      // The multi handle itself failed (out of memory, a bug): fail what is
      // in flight and what is left rather than loop.
      const absl::Status error =
          absl::InternalError(absl::StrCat("curl multi: ", curl_multi_strerror(mc)));
      for (std::unique_ptr<Transfer>& t : active) {
        if (t == nullptr) continue;
        curl_multi_remove_handle(multi, t->easy);
        Release(t->easy);
        const size_t index = t->index;
        results[index] = error;
        t.reset();
        if (on_response) on_response(index, results[index]);
      }
      for (; next < requests.size(); ++next) {
        results[next] = error;
        if (on_response) on_response(next, results[next]);
      }
      break;
    }
  }
  return results;
}

absl::StatusOr<std::unique_ptr<HttpFetcher>> HttpFetcher::Create(
    const HttpFetcherOptions& options) {
  if (options.max_in_flight < 1) return absl::InvalidArgumentError("max_in_flight must be >= 1");
  if (options.max_redirects < 0) return absl::InvalidArgumentError("max_redirects must be >= 0");
  if (options.timeout.count() < 0 || options.connect_timeout.count() < 0 ||
      options.low_speed_bytes < 0 || options.low_speed_time.count() < 0) {
    return absl::InvalidArgumentError("timeouts and low-speed limits must be >= 0");
  }
  if (absl::Status s = InitCurlOnce(); !s.ok()) return s;
  auto impl = std::make_unique<Impl>(options);
  impl->http2 = (curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_HTTP2) != 0;
  impl->multi = curl_multi_init();
  if (impl->multi == nullptr) return absl::InternalError("curl_multi_init failed");
  // By default the connection cache shrinks to 4 per handle still attached,
  // so the tail of a GetMany closed connections the next call would reuse.
  if (curl_multi_setopt(impl->multi, CURLMOPT_MAXCONNECTS,
                        static_cast<long>(options.max_in_flight)) != CURLM_OK) {
    return absl::InvalidArgumentError("libcurl refused CURLMOPT_MAXCONNECTS");
  }
  // Apply the shared options once now, so that a refusal is reported here
  // rather than by every request.
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return absl::InternalError("curl_easy_init failed");
  OptionSetter set(easy);
  absl::Status status = impl->ApplyCommonOptions(set);
  impl->Release(easy);
  if (!status.ok()) return status;
  return std::unique_ptr<HttpFetcher>(new HttpFetcher(std::move(impl)));
}

HttpFetcher::HttpFetcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpFetcher::~HttpFetcher() = default;

absl::StatusOr<HttpResponse> HttpFetcher::Get(const std::string& url, size_t max_body_bytes) {
  return std::move(GetMany({HttpGet{url, max_body_bytes}})[0]);
}

std::vector<absl::StatusOr<HttpResponse>> HttpFetcher::GetMany(absl::Span<const HttpGet> requests,
                                                               const OnResponse& on_response) {
  std::vector<Request> run;
  run.reserve(requests.size());
  for (const HttpGet& get : requests) run.push_back(Request{&get.url, get.max_body_bytes});
  return impl_->Run(run, on_response);
}

absl::StatusOr<HttpResponse> HttpFetcher::Post(const std::string& url, const std::string& body,
                                               const std::string& content_type,
                                               size_t max_body_bytes) {
  const Request request{&url, max_body_bytes, &body, &content_type};
  return std::move(impl_->Run({&request, 1})[0]);
}

}  // namespace infratrail
