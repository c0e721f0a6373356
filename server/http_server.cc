#include "server/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

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

void ReleaseBody(void* cls) { delete static_cast<std::shared_ptr<const HttpBody>*>(cls); }

void AddHeader(MHD_Response* response, const char* name, absl::string_view value) {
  if (value.empty()) return;
  MHD_add_response_header(response, name, std::string(value).c_str());
}

MHD_Result Serve(void* cls, MHD_Connection* connection, const char* url, const char* method,
                 const char* /*version*/, const char* /*upload_data*/, size_t* upload_data_size,
                 void** con_cls) {
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
  auto* handler = static_cast<TileHttpHandler*>(cls);
  const char* inm = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "If-None-Match");
  HttpResponse r = handler->Handle(method, url, inm == nullptr ? "" : inm);
  MHD_Response* response = nullptr;
  if (r.status == 200 || r.status == 304) {
    // Zero-copy: the response holds a reference to the cached body. (MHD
    // sends no body with 304, or for HEAD.)
    auto* ref = new std::shared_ptr<const HttpBody>(r.body);
    response = MHD_create_response_from_buffer_with_free_callback_cls(
        r.body->bytes.size(), const_cast<char*>(r.body->bytes.data()), &ReleaseBody, ref);
    if (response == nullptr) ReleaseBody(ref);
  } else {
    response = MHD_create_response_from_buffer(r.text.size(), r.text.data(), MHD_RESPMEM_MUST_COPY);
  }
  if (response == nullptr) return MHD_NO;
  if (r.status != 304) AddHeader(response, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type);
  AddHeader(response, MHD_HTTP_HEADER_CACHE_CONTROL, r.cache_control);
  if (r.body != nullptr) AddHeader(response, MHD_HTTP_HEADER_ETAG, r.body->etag);
  AddHeader(response, MHD_HTTP_HEADER_ALLOW, r.allow);
  MHD_add_response_header(response, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
  const MHD_Result rc = MHD_queue_response(connection, static_cast<unsigned>(r.status), response);
  MHD_destroy_response(response);
  return rc;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                              TileHttpHandler* handler) {
  socklen_t len = 0;
  absl::StatusOr<sockaddr_storage> addr = ParseAddress(options.address, &len);
  if (!addr.ok()) return addr.status();
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->handler_ = handler;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
  if (addr->ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  server->daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &Serve, handler, MHD_OPTION_SOCK_ADDR,
      reinterpret_cast<const sockaddr*>(&*addr), MHD_OPTION_THREAD_POOL_SIZE,
      static_cast<unsigned>(options.threads < 1 ? 1 : options.threads), MHD_OPTION_CONNECTION_LIMIT,
      options.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
      static_cast<unsigned>(absl::ToInt64Seconds(options.idle_timeout)), MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
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
    MHD_stop_daemon(daemon_);
    daemon_ = nullptr;
  }
}

}  // namespace infratrail
