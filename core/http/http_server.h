// HttpServer: carries TileHttpHandler over HTTP/1.1 with libmicrohttpd
// (epoll, a small pool of polling threads, keep-alive). Bodies are sent
// straight from the handler's cache without a copy. Every response gets
// Content-Type, Cache-Control, ETag (for 200 and 304),
// `X-Content-Type-Options: nosniff` and `Access-Control-Allow-Origin: *` so
// browser-based monitors can read too.
//
// The port is public, so it defends itself against clients that hold
// connections without using them (docs/operations.md, "Tiles HTTP port"):
//  - a cap on connections in total and per client address (an IPv4 address
//    or an IPv6 /64): a connection beyond either is closed at once, without
//    a response;
//  - deadlines that do not restart with each byte: the request head must be
//    complete `head_timeout` after accept, a response must be sent in full
//    `send_timeout` after it was queued; a connection past its deadline is
//    shut down. libmicrohttpd's own timeout is an inactivity timer (any byte
//    restarts it), which a client trickling bytes never trips; it stays on
//    as the idle timeout.
//  - URLs are not percent-decoded, so the handler sees the exact bytes the
//    client sent (and refuses any `%`).
// Memory for response bodies is bounded by the handler (TileHttpOptions).
//
// Threads: libmicrohttpd's polling threads run the callbacks; one reaper
// thread of ours enforces the deadlines. Both touch the connection table
// only under `mu_`. A connection's socket is only shut down (never closed)
// by the reaper, and only while libmicrohttpd has not yet reported it
// closed: libmicrohttpd closes the descriptor after that report, so the
// descriptor the reaper shuts down is always the connection's own.
#ifndef INFRATRAIL_CORE_HTTP_HTTP_SERVER_H_
#define INFRATRAIL_CORE_HTTP_HTTP_SERVER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/metrics.h"
#include "server/tile_http.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace infratrail {

struct HttpServerOptions {
  // "HOST:PORT" or "[V6]:PORT"; port 0 picks a free one (see port()).
  std::string address = "127.0.0.1:7401";
  int threads = 2;  // polling threads, each with its own epoll
  // Connections held at once; beyond it a new connection is closed at once.
  // 0: a quarter of the process's soft RLIMIT_NOFILE at Start, at most 4096
  // (the rest of the descriptors stay for gRPC, RocksDB and the signer).
  unsigned max_connections = 0;
  // Connections held at once from one client address (IPv4 address or
  // IPv6 /64); 0: no per-address limit (behind a proxy or CDN, every client
  // has the proxy's address).
  unsigned max_connections_per_address = 64;
  // The request head (and any body) must have arrived in full this long
  // after the connection was accepted, however steadily bytes arrive.
  absl::Duration head_timeout = absl::Seconds(10);
  // A connection with no byte read or sent for this long is closed (whole
  // seconds, at least 1). A kept-alive connection must also complete its
  // next request head within idle_timeout + head_timeout of the last
  // response.
  absl::Duration idle_timeout = absl::Seconds(30);
  // A response must be sent in full this long after it was queued; a
  // client that reads slower is cut off (so a 16 MiB bundle needs
  // ~280 KB/s at the default).
  absl::Duration send_timeout = absl::Seconds(60);
};

class HttpServer {
 public:
  // Listens and serves `handler` (which must outlive the server). `metrics`
  // may be null. InvalidArgument for a malformed address; Unavailable if it
  // cannot listen. Both name the address.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           TileHttpHandler* handler,
                                                           Metrics* metrics);
  ~HttpServer();  // Stop()

  int port() const { return port_; }
  // The connection cap in force (options.max_connections, or its default).
  unsigned max_connections() const { return max_connections_; }
  // Connections currently held.
  size_t connections() const;
  // Waits until at most `n` connections are held (for tests and draining);
  // false if that did not happen within `timeout`.
  bool WaitForConnectionsAtMost(size_t n, absl::Duration timeout) const;

  // Stops accepting, closes connections, joins the threads. Idempotent.
  void Stop();

 private:
  struct Conn;
  enum class Deadline { kHead, kSend };

  HttpServer() = default;

  // libmicrohttpd callbacks (static trampolines in the .cc call these).
  bool Admit(const void* addr, size_t addr_len);
  void Opened(MHD_Connection* connection, void** socket_context);
  void Closed(void** socket_context);
  void SetDeadline(Conn* conn, Deadline kind, absl::Duration after);
  void Reap();

  friend struct HttpServerCallbacks;

  MHD_Daemon* daemon_ = nullptr;
  TileHttpHandler* handler_ = nullptr;
  Metrics* metrics_ = nullptr;
  HttpServerOptions options_;
  unsigned max_connections_ = 0;
  int port_ = 0;
  std::thread reaper_;

  mutable absl::Mutex mu_;
  absl::CondVar reaper_wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  size_t open_ ABSL_GUARDED_BY(mu_) = 0;  // admitted, not yet closed
  // Admitted connections per address key (see Admit).
  absl::flat_hash_map<std::string, unsigned> per_address_ ABSL_GUARDED_BY(mu_);
  // An admission by this polling thread not yet claimed by Opened (the
  // accept failed in between if the thread admits again first).
  absl::flat_hash_map<std::thread::id, std::string> pending_ ABSL_GUARDED_BY(mu_);
  // Every open connection (Opened to Closed). The reaper scans them a few
  // times per shortest timeout; setting a deadline on the request path is
  // two atomic stores, no lock.
  absl::flat_hash_set<Conn*> conns_ ABSL_GUARDED_BY(mu_);
  absl::Duration reap_every_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_HTTP_HTTP_SERVER_H_
