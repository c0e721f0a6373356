#include "core/http/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "core/check.h"
#include "core/io/file_util.h"

namespace infratrail {
namespace {

// Parses "HOST:PORT" / "[V6]:PORT" with a numeric host.
absl::StatusOr<sockaddr_storage> ParseAddress(const std::string& flag_name,
                                              const std::string& address, socklen_t* len) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(flag_name, " ", address, ": ", why));
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return bad("expected HOST:PORT");
  std::string host = address.substr(0, colon);
  uint32_t port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port > 65535) {
    return bad("port must be 0..65535");
  }
  sockaddr_storage out{};
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &in6->sin6_addr) != 1) {
      return bad("not a numeric IPv6 address");
    }
    *len = sizeof(sockaddr_in6);
    return out;
  }
  if (host.empty() || host == "localhost") host = host.empty() ? "0.0.0.0" : "127.0.0.1";
  auto* in4 = reinterpret_cast<sockaddr_in*>(&out);
  in4->sin_family = AF_INET;
  in4->sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) != 1) {
    return bad("not a numeric IPv4 address (use [::1] for IPv6)");
  }
  *len = sizeof(sockaddr_in);
  return out;
}

constexpr unsigned kMaxDefaultConnections = 4096;

// The default cap: a quarter of the descriptors this process may open.
unsigned DefaultMaxConnections() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return kMaxDefaultConnections;
  }
  return static_cast<unsigned>(
      std::clamp<rlim_t>(limit.rlim_cur / 4, 1, rlim_t{kMaxDefaultConnections}));
}

// The per-address limit's key: an IPv4 address (also when mapped into
// IPv6), or an IPv6 /64 (one subscriber's share; a client has the whole
// prefix to pick addresses from). Empty for other families.
std::string AddressKey(const void* addr, size_t len) {
  const auto* sa = static_cast<const sockaddr*>(addr);
  if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    const auto* in4 = static_cast<const sockaddr_in*>(addr);
    return std::string(reinterpret_cast<const char*>(&in4->sin_addr), 4);
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    const auto* in6 = static_cast<const sockaddr_in6*>(addr);
    const char* bytes = reinterpret_cast<const char*>(&in6->sin6_addr);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return std::string(bytes + 12, 4);
    return std::string(bytes, 8);
  }
  return "";
}

void ReleaseBody(void* cls) { delete static_cast<std::shared_ptr<const HttpBody>*>(cls); }

// Never called: HEAD and 304 responses have a length but send no body.
ssize_t NoBody(void* /*cls*/, uint64_t /*pos*/, char* /*buf*/, size_t /*max*/) {
  return MHD_CONTENT_READER_END_WITH_ERROR;
}

// Leaves the URL exactly as sent: a handler matches the bytes the client
// sent (the tile API refuses any `%`).
size_t KeepEscapes(void* /*cls*/, MHD_Connection* /*connection*/, char* s) { return strlen(s); }

void AddHeader(MHD_Response* response, const char* name, absl::string_view value) {
  if (value.empty()) return;
  MHD_add_response_header(response, name, std::string(value).c_str());
}

// Appends one query argument, as sent, to the string at `cls`.
// libmicrohttpd has turned each '+' into a space before KeepEscapes (a
// request line holds no raw space), which turns it back.
MHD_Result AppendArgument(void* cls, MHD_ValueKind /*kind*/, const char* key, const char* value) {
  auto* query = static_cast<std::string*>(cls);
  if (*key == '\0' && value == nullptr) return MHD_YES;
  const size_t start = query->size();
  if (!query->empty()) query->push_back('&');
  query->append(key);
  if (value != nullptr) absl::StrAppend(query, "=", value);
  std::replace(query->begin() + static_cast<std::ptrdiff_t>(start), query->end(), ' ', '+');
  return MHD_YES;
}

absl::string_view HeaderOf(MHD_Connection* connection, const char* name) {
  const char* value = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
  return value == nullptr ? absl::string_view() : absl::string_view(value);
}

// The libmicrohttpd response for `reply`; null if it cannot be built.
MHD_Response* BuildResponse(const HttpReply& reply, bool head) {
  MHD_Response* response = nullptr;
  if (reply.body != nullptr && (reply.status == 304 || head)) {
    // A length and no bytes: nothing of the body is held while the head
    // waits to be sent.
    response =
        MHD_create_response_from_callback(reply.body->bytes.size(), 1, &NoBody, nullptr, nullptr);
  } else if (reply.body != nullptr) {
    // Zero-copy: the response holds a reference to the body (which a
    // handler may count as in flight) until it is sent or the connection
    // closes.
    auto* ref = new std::shared_ptr<const HttpBody>(reply.body);
    response = MHD_create_response_from_buffer_with_free_callback_cls(
        reply.body->bytes.size(), const_cast<char*>(reply.body->bytes.data()), &ReleaseBody, ref);
    if (response == nullptr) ReleaseBody(ref);
  } else {
    response = MHD_create_response_from_buffer(
        reply.text.size(), const_cast<char*>(reply.text.data()), MHD_RESPMEM_MUST_COPY);
  }
  if (response == nullptr) return nullptr;
  if (reply.status != 304) AddHeader(response, MHD_HTTP_HEADER_CONTENT_TYPE, reply.content_type);
  AddHeader(response, MHD_HTTP_HEADER_CACHE_CONTROL, reply.cache_control);
  if (reply.body != nullptr) AddHeader(response, MHD_HTTP_HEADER_ETAG, reply.body->etag);
  AddHeader(response, MHD_HTTP_HEADER_ALLOW, reply.allow);
  if (reply.retry_after_s > 0) {
    AddHeader(response, MHD_HTTP_HEADER_RETRY_AFTER, absl::StrCat(reply.retry_after_s));
  }
  MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
  if (reply.any_origin) {
    MHD_add_response_header(response, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
  }
  if (!reply.content_security_policy.empty()) {
    AddHeader(response, "Content-Security-Policy", reply.content_security_policy);
    MHD_add_response_header(response, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(response, "X-Frame-Options", "DENY");
  }
  return response;
}

void Increment(prometheus::Counter* counter) {
  if (counter != nullptr) counter->Increment();
}

// The certificate and key files, read and checked as far as naming the
// file at fault needs: GnuTLS has the last word (see Start).
struct TlsFiles {
  std::string cert;
  std::string key;
};

absl::StatusOr<TlsFiles> ReadTlsFiles(const HttpServerOptions& options) {
  const std::string cert_flag = absl::StrCat(options.tls_flag_prefix, "cert");
  const std::string key_flag = absl::StrCat(options.tls_flag_prefix, "key");
  if (options.tls_cert_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(key_flag, ": given without ", cert_flag));
  }
  if (options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(cert_flag, ": given without ", key_flag));
  }
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    return absl::FailedPreconditionError(
        absl::StrCat(cert_flag, ": this libmicrohttpd was built without TLS support"));
  }
  auto read = [](const std::string& flag, const std::string& path) -> absl::StatusOr<std::string> {
    absl::StatusOr<std::string> pem = ReadRegularFileBounded(path, HttpServer::kMaxTlsFileBytes);
    if (!pem.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": ", pem.status().message()));
    }
    // libmicrohttpd takes C strings: a NUL would cut the file short.
    if (absl::StrContains(*pem, '\0')) {
      return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": contains a NUL byte"));
    }
    return pem;
  };
  absl::StatusOr<std::string> cert = read(cert_flag, options.tls_cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = read(key_flag, options.tls_key_file);
  if (!key.ok()) return key.status();
  if (!absl::StrContains(*cert, "-----BEGIN CERTIFICATE-----")) {
    return absl::InvalidArgumentError(
        absl::StrCat(cert_flag, " ", options.tls_cert_file,
                     ": not a PEM certificate (no -----BEGIN CERTIFICATE----- line)"));
  }
  if (absl::StrContains(*key, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
      absl::StrContains(*key, "Proc-Type: 4,ENCRYPTED")) {
    return absl::InvalidArgumentError(
        absl::StrCat(key_flag, " ", options.tls_key_file,
                     ": an encrypted private key; give it unencrypted (protect the file instead)"));
  }
  if (!absl::StrContains(*key, "-----BEGIN ") || !absl::StrContains(*key, "PRIVATE KEY-----")) {
    return absl::InvalidArgumentError(
        absl::StrCat(key_flag, " ", options.tls_key_file,
                     ": not a PEM private key (no -----BEGIN ... PRIVATE KEY----- line)"));
  }
  // OpenSSL parses both and checks that they belong together, so the
  // common mistakes are named here. (GnuTLS, which libmicrohttpd uses, also
  // leaks the parsed certificate when the key does not match it.)
  const std::string files = absl::StrCat(cert_flag, " ", options.tls_cert_file, ", ", key_flag, " ",
                                         options.tls_key_file);
  auto openssl_error = [] {
    const unsigned long code = ERR_peek_last_error();  // NOLINT(google-runtime-int)
    char text[256] = {0};
    if (code != 0) ERR_error_string_n(code, text, sizeof text);
    ERR_clear_error();
    return std::string(code != 0 ? text : "unknown error");
  };
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(
      BIO_new_mem_buf(cert->data(), static_cast<int>(cert->size())), &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> x509(
      cert_bio == nullptr ? nullptr : PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr),
      &X509_free);
  if (x509 == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(cert_flag, " ", options.tls_cert_file,
                     ": not a readable certificate (OpenSSL: ", openssl_error(), ")"));
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(
      BIO_new_mem_buf(key->data(), static_cast<int>(key->size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      key_bio == nullptr ? nullptr
                         : PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr),
      &EVP_PKEY_free);
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(key_flag, " ", options.tls_key_file,
                     ": not a readable private key (OpenSSL: ", openssl_error(), ")"));
  }
  if (X509_check_private_key(x509.get(), pkey.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(files, ": the key does not match the certificate"));
  }
  return TlsFiles{.cert = *std::move(cert), .key = *std::move(key)};
}

// Why libmicrohttpd refused to start, from its messages: GnuTLS refusing
// the certificate or key is the caller's InvalidArgument, anything else
// (the address) Unavailable.
absl::Status StartError(const HttpServerOptions& options, bool tls, const std::string& log) {
  if (tls && log.empty()) {
    // A libmicrohttpd built without messages does not say which.
    return absl::InvalidArgumentError(absl::StrCat(
        options.flag_name, " ", options.address, ", ", options.tls_flag_prefix, "cert ",
        options.tls_cert_file, ", ", options.tls_flag_prefix, "key ", options.tls_key_file,
        ": cannot listen, or GnuTLS refused the certificate or key"));
  }
  if (tls && absl::StrContains(log, "Failed to initialize TLS")) {
    const std::string files =
        absl::StrCat(options.tls_flag_prefix, "cert ", options.tls_cert_file, ", ",
                     options.tls_flag_prefix, "key ", options.tls_key_file);
    // GNUTLS_E_CERTIFICATE_KEY_MISMATCH's text.
    if (absl::StrContains(log, "do not match")) {
      return absl::InvalidArgumentError(
          absl::StrCat(files, ": the key does not match the certificate"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(files, ": GnuTLS refused the certificate or key: ",
                     absl::StripAsciiWhitespace(absl::StrReplaceAll(log, {{"\n", " "}}))));
  }
  return absl::UnavailableError(absl::StrCat(options.flag_name, " ", options.address,
                                             ": cannot listen (address in use or not local?)"));
}

}  // namespace

// One connection, from Opened to Closed (its socket_context). fd and
// address_key are set before it is published; the rest is guarded by the
// server's mu_.
struct HttpServer::Conn {
  int fd = -1;
  std::string address_key;
  // Set by the connection's polling thread, read by the reaper.
  std::atomic<Deadline> kind{Deadline::kHead};
  std::atomic<int64_t> deadline_ns{kNoDeadline};  // absl::ToUnixNanos
  bool cut = false;                               // guarded by the server's mu_
  static constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();
};

// One request, from its head to libmicrohttpd's NOTIFY_COMPLETED (*con_cls
// holds a shared_ptr to it), shared with its responder, which may outlive
// both the request and the server: the responder touches nothing but this.
struct HttpServer::Request {
  explicit Request(MHD_Connection* c, bool h) : connection(c), head(h) {}

  // Valid while libmicrohttpd has the connection; the responder uses it
  // only while `suspended` (a suspended connection cannot be closed:
  // Stop and the reaper resume it first).
  MHD_Connection* const connection;
  const bool head;  // a HEAD request: the answer's length, no bytes

  // The connection's polling thread only (libmicrohttpd calls one
  // connection's callbacks on one thread, one at a time).
  std::string body;
  std::string query;
  bool too_large = false;    // the body passed max_body_bytes: 413
  bool handled = false;      // Handle has been called
  bool in_handling = false;  // counted in the server's handling_

  absl::Mutex mu;  // before the server's mu_, never after
  std::optional<HttpReply> reply ABSL_GUARDED_BY(mu);
  bool answered ABSL_GUARDED_BY(mu) = false;   // the responder ran
  bool suspended ABSL_GUARDED_BY(mu) = false;  // parked, waiting for `reply`
  // Closed without an answer (a deadline, Stop): the responder is a no-op.
  bool abandoned ABSL_GUARDED_BY(mu) = false;
};

// The HttpResponder: stores the reply and, if the request was parked
// meanwhile, hands the connection back to libmicrohttpd. Dropped uncalled
// (a handler bug), it answers 500 so the client is not left to the
// deadline.
class HttpServer::Responder {
 public:
  explicit Responder(std::shared_ptr<Request> request) : request_(std::move(request)) {}
  Responder(Responder&& other) noexcept = default;
  Responder& operator=(Responder&& other) noexcept = default;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder() {
    if (request_ == nullptr) return;
    HttpReply dropped;
    dropped.status = 500;
    dropped.text = "internal error: the request was dropped unanswered\n";
    dropped.content_type = "text/plain; charset=utf-8";
    dropped.cache_control = "no-store";
    Deliver(*std::exchange(request_, nullptr), std::move(dropped));
  }

  void operator()(HttpReply reply) && {
    Deliver(*std::exchange(request_, nullptr), std::move(reply));
  }

 private:
  static void Deliver(Request& request, HttpReply reply) {
    absl::MutexLock l(&request.mu);
    if (request.answered || request.abandoned) return;
    request.answered = true;
    request.reply = std::move(reply);
    if (request.suspended) {
      request.suspended = false;
      MHD_resume_connection(request.connection);  // Serve runs again and sends it
    }
  }

  std::shared_ptr<Request> request_;
};

// Gives up on a parked request: the connection is handed back to
// libmicrohttpd, which closes it without a response (Serve says no).
void HttpServer::Abandon(Request& request) {
  absl::MutexLock l(&request.mu);
  if (!request.suspended) return;  // answered meanwhile, or never parked
  request.suspended = false;
  request.abandoned = true;
  MHD_resume_connection(request.connection);
}

// The C callbacks libmicrohttpd calls, each forwarding to the server.
struct HttpServerCallbacks {
  static MHD_Result Accept(void* cls, const sockaddr* addr, socklen_t len) {
    return static_cast<HttpServer*>(cls)->Admit(addr, len) ? MHD_YES : MHD_NO;
  }

  static void Connection(void* cls, MHD_Connection* connection, void** socket_context,
                         MHD_ConnectionNotificationCode code) {
    auto* server = static_cast<HttpServer*>(cls);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
      server->Opened(connection, socket_context);
    } else {
      server->Closed(socket_context);
    }
  }

  static void Completed(void* cls, MHD_Connection* connection, void** con_cls,
                        MHD_RequestTerminationCode /*toe*/) {
    static_cast<HttpServer*>(cls)->Completed(connection, con_cls);
  }

  static MHD_Result Serve(void* cls, MHD_Connection* connection, const char* url,
                          const char* method, const char* /*version*/, const char* upload_data,
                          size_t* upload_data_size, void** con_cls) {
    return static_cast<HttpServer*>(cls)->Serve(connection, url, method, upload_data,
                                                upload_data_size, con_cls) == MHD_YES
               ? MHD_YES
               : MHD_NO;
  }

  static void Log(void* cls, const char* format, va_list args) {
    static_cast<HttpServer*>(cls)->Log(format, args);
  }

  static HttpServer::Conn* ConnOf(MHD_Connection* connection) {
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info == nullptr ? nullptr : static_cast<HttpServer::Conn*>(info->socket_context);
  }
};

int HttpServer::Serve(MHD_Connection* connection, const char* url, const char* method,
                      const char* upload_data, size_t* upload_data_size, void** con_cls) {
  auto* slot = static_cast<std::shared_ptr<Request>*>(*con_cls);
  if (slot == nullptr) {
    // The first call comes with the head. Answering now would make
    // libmicrohttpd drop the rest of the request and close the connection,
    // which only a body declared too large deserves.
    auto request = std::make_shared<Request>(connection, absl::string_view(method) == "HEAD");
    *con_cls = new std::shared_ptr<Request>(request);
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &AppendArgument, &request->query);
    uint64_t declared = 0;
    if (absl::SimpleAtoi(HeaderOf(connection, MHD_HTTP_HEADER_CONTENT_LENGTH), &declared)) {
      if (declared > options_.max_body_bytes) return RefuseBody(connection, *request);
      request->body.reserve(static_cast<size_t>(declared));
    }
    return MHD_YES;
  }
  Request& request = **slot;
  if (*upload_data_size != 0) {
    // A chunked body may pass the cap as it arrives. No response can be
    // queued while body data is being delivered, so the rest is read and
    // dropped (the head deadline bounds how long) and 413 follows.
    if (!request.too_large && *upload_data_size > options_.max_body_bytes - request.body.size()) {
      request.too_large = true;
      std::string().swap(request.body);
    }
    if (!request.too_large) request.body.append(upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (request.too_large) return RefuseBody(connection, request);
  if (!request.handled) {
    request.handled = true;
    Conn* conn = HttpServerCallbacks::ConnOf(connection);
    const HttpRequest view{
        .method = method,
        .url = url,
        .query = request.query,
        .if_none_match = HeaderOf(connection, MHD_HTTP_HEADER_IF_NONE_MATCH),
        .content_type = HeaderOf(connection, MHD_HTTP_HEADER_CONTENT_TYPE),
        .body = request.body,
        .peer = conn == nullptr ? absl::string_view() : absl::string_view(conn->address_key),
    };
    {
      absl::MutexLock l(&mu_);
      ++handling_;
    }
    request.in_handling = true;
    handler_->Handle(view, Responder(*slot));
    std::string().swap(request.body);
  }
  return AnswerOrPark(connection, *slot);
}

int HttpServer::AnswerOrPark(MHD_Connection* connection, const std::shared_ptr<Request>& request) {
  Conn* conn = HttpServerCallbacks::ConnOf(connection);
  INFRATRAIL_CHECK(conn != nullptr) << "HttpServer: a request on a connection never opened";
  std::optional<HttpReply> reply;
  {
    absl::MutexLock l(&request->mu);
    if (!request->answered && !request->abandoned) {
      // No answer yet: park the connection until the responder runs. The
      // request's lock is held from here until it is suspended, so a
      // responder (or the reaper) sees either not parked, or suspended.
      bool park = false;
      {
        absl::MutexLock s(&mu_);
        park = !grace_over_;  // within Stop's grace an answer may still come
        if (park) {
          parked_[conn] = request;
          if (request->in_handling) --handling_;
          request->in_handling = false;
        }
      }
      if (park) {
        MHD_suspend_connection(connection);
        request->suspended = true;
        return MHD_YES;
      }
      request->abandoned = true;  // Stop has begun
    }
    if (!request->abandoned) reply = std::move(request->reply);
  }
  {
    absl::MutexLock s(&mu_);
    parked_.erase(conn);
    if (reply.has_value()) sending_.insert(conn);  // in one step: Stop sees one or the other
    if (request->in_handling) --handling_;
    request->in_handling = false;
  }
  if (!reply.has_value()) return MHD_NO;  // closes the connection
  return Answer(connection, *request, *reply, /*close=*/false);
}

int HttpServer::RefuseBody(MHD_Connection* connection, Request& request) {
  Increment(metrics_.body_too_large);
  HttpReply reply;
  reply.status = 413;
  reply.text =
      absl::StrCat("request body too large: at most ", options_.max_body_bytes, " bytes\n");
  reply.content_type = "text/plain; charset=utf-8";
  reply.cache_control = "no-store";
  return Answer(connection, request, reply, /*close=*/true);
}

int HttpServer::Answer(MHD_Connection* connection, const Request& request, const HttpReply& reply,
                       bool close) {
  Conn* conn = HttpServerCallbacks::ConnOf(connection);
  MHD_Response* response = BuildResponse(reply, request.head);
  MHD_Result rc = MHD_NO;
  if (response != nullptr) {
    if (close) MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
    if (conn != nullptr) {
      absl::MutexLock l(&mu_);
      sending_.insert(conn);
    }
    rc = MHD_queue_response(connection, static_cast<unsigned>(reply.status), response);
    MHD_destroy_response(response);
  }
  if (conn != nullptr && rc == MHD_YES) {
    SetDeadline(conn, Deadline::kSend, options_.send_timeout);
  } else if (conn != nullptr) {
    absl::MutexLock l(&mu_);
    sending_.erase(conn);
  }
  return rc;
}

// A response was sent in full (or the request ended otherwise): the
// connection may wait, kept alive, for its next request head.
void HttpServer::Completed(MHD_Connection* connection, void** con_cls) {
  std::unique_ptr<std::shared_ptr<Request>> slot(static_cast<std::shared_ptr<Request>*>(*con_cls));
  *con_cls = nullptr;
  Conn* conn = HttpServerCallbacks::ConnOf(connection);
  if (conn == nullptr) return;
  {
    absl::MutexLock l(&mu_);
    parked_.erase(conn);
    sending_.erase(conn);
  }
  SetDeadline(conn, Deadline::kHead, options_.idle_timeout + options_.head_timeout);
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                              HttpHandler* handler,
                                                              HttpServerMetrics metrics) {
  socklen_t len = 0;
  absl::StatusOr<sockaddr_storage> addr = ParseAddress(options.flag_name, options.address, &len);
  if (!addr.ok()) return addr.status();
  const bool tls = !options.tls_cert_file.empty() || !options.tls_key_file.empty();
  TlsFiles tls_files;
  if (tls) {
    absl::StatusOr<TlsFiles> files = ReadTlsFiles(options);
    if (!files.ok()) return files.status();
    tls_files = *std::move(files);
  }
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->handler_ = handler;
  server->metrics_ = metrics;
  server->options_ = options;
  server->max_connections_ =
      options.max_connections == 0 ? DefaultMaxConnections() : options.max_connections;
  const unsigned threads = static_cast<unsigned>(std::max(options.threads, 1));
  const unsigned idle_s = static_cast<unsigned>(std::max<int64_t>(
      1, absl::ToInt64Seconds(absl::Ceil(options.idle_timeout, absl::Seconds(1)))));
  // Deadlines are enforced within a quarter of the shortest one (at most
  // 250 ms late).
  server->reap_every_ =
      std::clamp(std::min({options.head_timeout, options.send_timeout, options.idle_timeout}) / 4,
                 absl::Milliseconds(5), absl::Milliseconds(250));
  server->reaper_ = std::thread([s = server.get()] { s->Reap(); });
  // Suspend/resume (deferred answers) brings the inter-thread channel that
  // wakes a polling thread when a parked connection resumes. Messages go to
  // Log, which keeps those of the start only.
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                   MHD_USE_ERROR_LOG;
  if (addr->ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  // libmicrohttpd hands the PEM to GnuTLS while starting and keeps no
  // pointer to it afterwards.
  std::vector<MHD_OptionItem> tls_options;
  if (tls) {
    flags |= MHD_USE_TLS;
    tls_options.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, tls_files.cert.data()});
    tls_options.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, tls_files.key.data()});
  }
  tls_options.push_back({MHD_OPTION_END, 0, nullptr});
  // The caps are enforced in Admit, which can count what it refuses.
  // libmicrohttpd splits its own limit between the polling threads and
  // stops accepting (leaving clients in the backlog) when a thread's share
  // is full, so it is set where no thread's share can fill first.
  const unsigned mhd_limit = (server->max_connections_ + 1) * threads;
  server->daemon_ = MHD_start_daemon(
      flags, 0, &HttpServerCallbacks::Accept, server.get(), &HttpServerCallbacks::Serve,
      server.get(), MHD_OPTION_EXTERNAL_LOGGER, &HttpServerCallbacks::Log, server.get(),
      MHD_OPTION_ARRAY, tls_options.data(), MHD_OPTION_SOCK_ADDR,
      reinterpret_cast<const sockaddr*>(&*addr), MHD_OPTION_THREAD_POOL_SIZE, threads,
      MHD_OPTION_CONNECTION_LIMIT, mhd_limit, MHD_OPTION_CONNECTION_TIMEOUT, idle_s,
      MHD_OPTION_NOTIFY_CONNECTION, &HttpServerCallbacks::Connection, server.get(),
      MHD_OPTION_NOTIFY_COMPLETED, &HttpServerCallbacks::Completed, server.get(),
      MHD_OPTION_UNESCAPE_CALLBACK, &KeepEscapes, nullptr, MHD_OPTION_END);
  std::string start_log;
  {
    absl::MutexLock l(&server->log_mu_);
    server->starting_ = false;
    start_log = std::exchange(server->start_log_, "");
  }
  if (server->daemon_ == nullptr) {
    server->Stop();
    return StartError(options, tls, start_log);
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info == nullptr ? 0 : info->port;
  return server;
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (daemon_ != nullptr) {
    {
      absl::MutexLock l(&mu_);
      closing_ = true;
    }
    // From here Admit refuses every new client, so it is closed at once
    // rather than served or left waiting. (MHD_quiesce_daemon would take
    // the listener out of the polling threads' epoll sets, but it races the
    // threads doing the same and libmicrohttpd 0.9.75 aborts the process
    // when it loses.) MHD_stop_daemon closes the listener.
    // libmicrohttpd must not be stopped with a connection suspended: wait a
    // little for the answers still pending, and for those queued to be sent
    // (the reaper keeps enforcing their deadlines meanwhile), then give up
    // on the rest.
    std::vector<std::shared_ptr<Request>> left;
    {
      absl::MutexLock l(&mu_);
      auto all_answered = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return parked_.empty() && sending_.empty() && handling_ == 0;
      };
      mu_.AwaitWithTimeout(absl::Condition(&all_answered), kStopGrace);
      grace_over_ = true;
      for (const auto& [conn, request] : parked_) left.push_back(request);
    }
    for (const std::shared_ptr<Request>& request : left) Abandon(*request);
    // Now nothing is suspended, or only resumed and not yet taken back,
    // which MHD_stop_daemon takes back itself before closing every
    // connection (Completed, Closed).
    MHD_stop_daemon(daemon_);
    daemon_ = nullptr;
  }
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    reaper_wake_.Signal();
  }
  if (reaper_.joinable()) reaper_.join();
}

size_t HttpServer::connections() const {
  absl::MutexLock l(&mu_);
  return open_;
}

bool HttpServer::WaitForConnectionsAtMost(size_t n, absl::Duration timeout) const {
  absl::MutexLock l(&mu_);
  auto at_most = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return open_ <= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&at_most), timeout);
}

bool HttpServer::WaitForStopping(absl::Duration timeout) const {
  absl::MutexLock l(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&closing_), timeout);
}

// Runs on the accepting polling thread, just before libmicrohttpd builds
// the connection and calls Opened on the same thread.
bool HttpServer::Admit(const void* addr, size_t addr_len) {
  std::string key = AddressKey(addr, addr_len);
  absl::MutexLock l(&mu_);
  // A previous admission on this thread that never reached Opened (the
  // connection failed to set up) gives its slot back.
  if (auto it = pending_.find(std::this_thread::get_id()); it != pending_.end()) {
    --open_;
    if (auto a = per_address_.find(it->second); a != per_address_.end() && --a->second == 0) {
      per_address_.erase(a);
    }
    pending_.erase(it);
  }
  if (closing_) return false;  // Stop has begun
  if (open_ >= max_connections_) {
    Increment(metrics_.refused_total_cap);
    return false;
  }
  unsigned& from_here = per_address_[key];
  if (options_.max_connections_per_address != 0 &&
      from_here >= options_.max_connections_per_address) {
    Increment(metrics_.refused_per_address);
    return false;
  }
  ++from_here;
  ++open_;
  if (metrics_.open_connections != nullptr) {
    metrics_.open_connections->Set(static_cast<double>(open_));
  }
  pending_[std::this_thread::get_id()] = std::move(key);
  return true;
}

void HttpServer::Opened(MHD_Connection* connection, void** socket_context) {
  auto conn = std::make_unique<Conn>();
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
  conn->fd = info == nullptr ? -1 : info->connect_fd;
  SetDeadline(conn.get(), Deadline::kHead, options_.head_timeout);
  {
    absl::MutexLock l(&mu_);
    auto it = pending_.find(std::this_thread::get_id());
    INFRATRAIL_CHECK(it != pending_.end()) << "HttpServer: a connection opened without Admit";
    conn->address_key = std::move(it->second);
    pending_.erase(it);
    conns_.insert(conn.get());
  }
  *socket_context = conn.release();
}

void HttpServer::Closed(void** socket_context) {
  std::unique_ptr<Conn> conn(static_cast<Conn*>(*socket_context));
  *socket_context = nullptr;
  if (conn == nullptr) return;
  absl::MutexLock l(&mu_);
  conns_.erase(conn.get());
  sending_.erase(conn.get());
  if (auto a = per_address_.find(conn->address_key); a != per_address_.end() && --a->second == 0) {
    per_address_.erase(a);
  }
  --open_;
  if (metrics_.open_connections != nullptr) {
    metrics_.open_connections->Set(static_cast<double>(open_));
  }
}

void HttpServer::SetDeadline(Conn* conn, Deadline kind, absl::Duration after) {
  conn->kind.store(kind, std::memory_order_relaxed);
  conn->deadline_ns.store(absl::ToUnixNanos(absl::Now() + after), std::memory_order_release);
}

void HttpServer::Reap() {
  for (;;) {
    // Parked requests on connections past their deadline: the socket's
    // shutdown goes unnoticed while a connection is suspended, so they are
    // handed back to libmicrohttpd to close.
    std::vector<std::shared_ptr<Request>> parked;
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return;
      reaper_wake_.WaitWithTimeout(&mu_, reap_every_);
      if (stopping_) return;
      const int64_t now = absl::ToUnixNanos(absl::Now());
      for (Conn* conn : conns_) {
        if (conn->cut || conn->deadline_ns.load(std::memory_order_acquire) > now) continue;
        conn->cut = true;
        Increment(conn->kind.load(std::memory_order_relaxed) == Deadline::kHead
                      ? metrics_.cut_head
                      : metrics_.cut_send);
        // libmicrohttpd sees the hang-up on its next poll and closes the
        // connection (and reports it to Closed, which waits for mu_).
        if (conn->fd >= 0) shutdown(conn->fd, SHUT_RDWR);
        if (auto p = parked_.find(conn); p != parked_.end()) parked.push_back(p->second);
      }
    }
    for (const std::shared_ptr<Request>& request : parked) Abandon(*request);
  }
}

void HttpServer::Log(const char* format, va_list args) {
  constexpr size_t kMaxStartLog = 4096;
  absl::MutexLock l(&log_mu_);
  if (!starting_ || start_log_.size() >= kMaxStartLog) return;
  char line[512];
  const int n = vsnprintf(line, sizeof(line), format, args);
  if (n > 0) start_log_.append(line, std::min(static_cast<size_t>(n), sizeof(line) - 1));
}

HttpReply TextReply(int status, std::string text, absl::string_view content_type) {
  HttpReply r;
  r.status = status;
  r.text = std::move(text);
  r.content_type = content_type;
  r.cache_control = "no-store";
  return r;
}

std::optional<absl::string_view> CheckpointPathOriginHash(absl::string_view url) {
  if (!absl::ConsumePrefix(&url, "/") || !absl::ConsumeSuffix(&url, "/checkpoint") ||
      url.size() != 64 || !std::all_of(url.begin(), url.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      })) {
    return std::nullopt;
  }
  return url;
}

}  // namespace infratrail
