// HttpServer: carries TileHttpHandler over HTTP/1.1 with libmicrohttpd
// (epoll, a small pool of polling threads, keep-alive). Bodies are sent
// straight from the handler's cache without a copy. Every response gets
// Content-Type, Cache-Control, ETag (for 200 and 304) and
// `Access-Control-Allow-Origin: *` so browser-based monitors can read too.
#ifndef INFRATRAIL_SERVER_HTTP_SERVER_H_
#define INFRATRAIL_SERVER_HTTP_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/tile_http.h"

struct MHD_Daemon;

namespace infratrail {

struct HttpServerOptions {
  // "HOST:PORT" or "[V6]:PORT"; port 0 picks a free one (see port()).
  std::string address = "127.0.0.1:7401";
  int threads = 2;  // polling threads, each with its own epoll
  unsigned max_connections = 4096;
  // An idle keep-alive connection is closed after this long.
  absl::Duration idle_timeout = absl::Seconds(30);
};

class HttpServer {
 public:
  // Listens and serves `handler` (which must outlive the server).
  // InvalidArgument for a malformed address; Unavailable if it cannot
  // listen. Both name the address.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           TileHttpHandler* handler);
  ~HttpServer();  // Stop()

  int port() const { return port_; }

  // Stops accepting, closes connections, joins the threads. Idempotent.
  void Stop();

 private:
  HttpServer() = default;

  MHD_Daemon* daemon_ = nullptr;
  TileHttpHandler* handler_ = nullptr;
  int port_ = 0;
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_HTTP_SERVER_H_
