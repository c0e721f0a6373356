#include "core/http/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/check.h"

namespace infratrail {
namespace {

// Parses "HOST:PORT" / "[V6]:PORT" with a numeric host.
absl::StatusOr<sockaddr_storage> ParseAddress(const std::string& address, socklen_t* len) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("--http-addr ", address, ": ", why));
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

// Leaves the URL exactly as sent: tile paths have one spelling, and any
// `%` in one is refused by the handler.
size_t KeepEscapes(void* /*cls*/, MHD_Connection* /*connection*/, char* s) { return strlen(s); }

void AddHeader(MHD_Response* response, const char* name, absl::string_view value) {
  if (value.empty()) return;
  MHD_add_response_header(response, name, std::string(value).c_str());
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

  static HttpServer::Conn* ConnOf(MHD_Connection* connection) {
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info == nullptr ? nullptr : static_cast<HttpServer::Conn*>(info->socket_context);
  }

  // A response was sent in full (or the request ended otherwise): the
  // connection may wait, kept alive, for its next request head.
  static void Completed(void* cls, MHD_Connection* connection, void** /*con_cls*/,
                        MHD_RequestTerminationCode /*toe*/) {
    auto* server = static_cast<HttpServer*>(cls);
    if (HttpServer::Conn* conn = ConnOf(connection)) {
      server->SetDeadline(conn, HttpServer::Deadline::kHead,
                          server->options_.idle_timeout + server->options_.head_timeout);
    }
  }

  static MHD_Result Serve(void* cls, MHD_Connection* connection, const char* url,
                          const char* method, const char* /*version*/, const char* /*upload_data*/,
                          size_t* upload_data_size, void** con_cls) {
    // The first call comes with the headers: answering then would make MHD
    // close the connection, so wait for the end of the request (any body is
    // read and ignored) and keep the connection alive.
    static int request_seen;
    if (*con_cls == nullptr) {
      *con_cls = &request_seen;
      return MHD_YES;
    }
    if (*upload_data_size != 0) {
      *upload_data_size = 0;
      return MHD_YES;
    }
    auto* server = static_cast<HttpServer*>(cls);
    const char* inm = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "If-None-Match");
    HttpResponse r = server->handler_->Handle(method, url, inm == nullptr ? "" : inm);
    MHD_Response* response = nullptr;
    const bool has_body = r.status == 200 || r.status == 304;
    if (has_body && (r.status == 304 || absl::string_view(method) == "HEAD")) {
      // A length and no bytes: nothing of the body is held while the head
      // waits to be sent.
      response =
          MHD_create_response_from_callback(r.body->bytes.size(), 1, &NoBody, nullptr, nullptr);
    } else if (has_body) {
      // Zero-copy: the response holds a reference to the body (counted as in
      // flight by the handler) until it is sent or the connection closes.
      auto* ref = new std::shared_ptr<const HttpBody>(r.body);
      response = MHD_create_response_from_buffer_with_free_callback_cls(
          r.body->bytes.size(), const_cast<char*>(r.body->bytes.data()), &ReleaseBody, ref);
      if (response == nullptr) ReleaseBody(ref);
    } else {
      response =
          MHD_create_response_from_buffer(r.text.size(), r.text.data(), MHD_RESPMEM_MUST_COPY);
    }
    if (response == nullptr) return MHD_NO;
    if (r.status != 304) AddHeader(response, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type);
    AddHeader(response, MHD_HTTP_HEADER_CACHE_CONTROL, r.cache_control);
    if (r.body != nullptr) AddHeader(response, MHD_HTTP_HEADER_ETAG, r.body->etag);
    AddHeader(response, MHD_HTTP_HEADER_ALLOW, r.allow);
    if (r.retry_after_s > 0) {
      AddHeader(response, MHD_HTTP_HEADER_RETRY_AFTER, absl::StrCat(r.retry_after_s));
    }
    MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(response, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    const MHD_Result rc = MHD_queue_response(connection, static_cast<unsigned>(r.status), response);
    MHD_destroy_response(response);
    if (HttpServer::Conn* conn = ConnOf(connection)) {
      server->SetDeadline(conn, HttpServer::Deadline::kSend, server->options_.send_timeout);
    }
    return rc;
  }
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                              TileHttpHandler* handler,
                                                              Metrics* metrics) {
  socklen_t len = 0;
  absl::StatusOr<sockaddr_storage> addr = ParseAddress(options.address, &len);
  if (!addr.ok()) return addr.status();
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
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
  if (addr->ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  // The caps are enforced in Admit, which can count what it refuses.
  // libmicrohttpd splits its own limit between the polling threads and
  // stops accepting (leaving clients in the backlog) when a thread's share
  // is full, so it is set where no thread's share can fill first.
  const unsigned mhd_limit = (server->max_connections_ + 1) * threads;
  server->daemon_ = MHD_start_daemon(
      flags, 0, &HttpServerCallbacks::Accept, server.get(), &HttpServerCallbacks::Serve,
      server.get(), MHD_OPTION_SOCK_ADDR, reinterpret_cast<const sockaddr*>(&*addr),
      MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
      MHD_OPTION_CONNECTION_TIMEOUT, idle_s, MHD_OPTION_NOTIFY_CONNECTION,
      &HttpServerCallbacks::Connection, server.get(), MHD_OPTION_NOTIFY_COMPLETED,
      &HttpServerCallbacks::Completed, server.get(), MHD_OPTION_UNESCAPE_CALLBACK, &KeepEscapes,
      nullptr, MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    server->Stop();
    return absl::UnavailableError(absl::StrCat("--http-addr ", options.address,
                                               ": cannot listen (address in use or not local?)"));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info == nullptr ? 0 : info->port;
  return server;
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (daemon_ != nullptr) {
    MHD_stop_daemon(daemon_);  // closes every connection (Closed)
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
  if (open_ >= max_connections_) {
    if (metrics_ != nullptr) metrics_->http_connections_refused_total_cap.Increment();
    return false;
  }
  unsigned& from_here = per_address_[key];
  if (options_.max_connections_per_address != 0 &&
      from_here >= options_.max_connections_per_address) {
    if (metrics_ != nullptr) metrics_->http_connections_refused_per_address.Increment();
    return false;
  }
  ++from_here;
  ++open_;
  if (metrics_ != nullptr) metrics_->http_open_connections.Set(static_cast<double>(open_));
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
  if (auto a = per_address_.find(conn->address_key); a != per_address_.end() && --a->second == 0) {
    per_address_.erase(a);
  }
  --open_;
  if (metrics_ != nullptr) metrics_->http_open_connections.Set(static_cast<double>(open_));
}

void HttpServer::SetDeadline(Conn* conn, Deadline kind, absl::Duration after) {
  conn->kind.store(kind, std::memory_order_relaxed);
  conn->deadline_ns.store(absl::ToUnixNanos(absl::Now() + after), std::memory_order_release);
}

void HttpServer::Reap() {
  absl::MutexLock l(&mu_);
  while (!stopping_) {
    reaper_wake_.WaitWithTimeout(&mu_, reap_every_);
    const int64_t now = absl::ToUnixNanos(absl::Now());
    for (Conn* conn : conns_) {
      if (conn->cut || conn->deadline_ns.load(std::memory_order_acquire) > now) continue;
      conn->cut = true;
      if (metrics_ != nullptr) {
        (conn->kind.load(std::memory_order_relaxed) == Deadline::kHead
             ? metrics_->http_connections_cut_head
             : metrics_->http_connections_cut_send)
            .Increment();
      }
      // libmicrohttpd sees the hang-up on its next poll and closes the
      // connection (and reports it to Closed, which waits for mu_).
      if (conn->fd >= 0) shutdown(conn->fd, SHUT_RDWR);
    }
  }
}

}  // namespace infratrail
