// HttpServer: an HTTP/1.1 transport on libmicrohttpd (epoll, a small pool
// of polling threads, keep-alive) for any HttpHandler: the tile read API
// (server/tile_http.h) and the witness (verifier/). Request bodies are
// delivered whole, up to a cap; a handler may answer at once or later from
// any thread. Response bodies held by a shared HttpBody are sent without a
// copy. Every response gets the handler's Content-Type and Cache-Control,
// ETag when its body has one, Allow and Retry-After when set,
// `X-Content-Type-Options: nosniff`, and `Access-Control-Allow-Origin: *` so
// browser-based monitors can read too (unless the reply is for its own
// pages only, HttpReply::any_origin).
//
// The port is public, so it defends itself against clients that hold
// connections without using them (docs/operations.md, "Tiles HTTP port"):
//  - a cap on connections in total and per client address (an IPv4 address
//    or an IPv6 /64): a connection beyond either is closed at once, without
//    a response;
//  - deadlines that do not restart with each byte: the request head and
//    body must be complete, and answered, `head_timeout` after accept; a
//    response must be sent in full `send_timeout` after it was queued; a
//    connection past its deadline is shut down. libmicrohttpd's own timeout
//    is an inactivity timer (any byte restarts it), which a client
//    trickling bytes never trips; it stays on as the idle timeout.
//  - a request body over `max_body_bytes` (declared by Content-Length, or
//    as a chunked upload arrives) is answered 413 without reaching the
//    handler, is never buffered beyond the cap, and the connection is
//    closed after the answer;
//  - URLs are not percent-decoded, so the handler sees the exact bytes the
//    client sent.
//
// HTTPS: given a certificate and key (HttpServerOptions::tls_cert_file),
// the port speaks only TLS (libmicrohttpd's GnuTLS), and every defence
// above holds unchanged: the caps are applied at accept, before the
// handshake; the handshake counts against the head deadline, so a client
// that never completes it (or speaks plaintext to the port) is cut like
// one that never completes its head; the body cap and deadlines apply to
// the decrypted stream. Shutting down a TLS connection's socket (the
// reaper) makes GnuTLS's next read or write fail, and libmicrohttpd closes
// the connection as for plaintext (its close_notify then fails quietly:
// GnuTLS sends with MSG_NOSIGNAL). Client certificates are not checked.
//
// Deferred answers: a request the handler did not answer before Handle
// returned is parked (MHD_suspend_connection) and holds no polling thread
// until its responder runs (MHD_resume_connection). A parked request keeps
// its head deadline, which libmicrohttpd's idle timeout does not cover
// while suspended: a handler that never answers costs the connection at
// `head_timeout` after accept (or after the previous response, plus
// `idle_timeout`, on a kept-alive connection), never more.
//
// Threads: libmicrohttpd's polling threads run the callbacks and the
// handler; one reaper thread of ours enforces the deadlines; responders run
// on whatever thread the handler calls them from. The connection table is
// touched only under `mu_`. A request's own state has its own mutex, which
// is taken before `mu_` where both are held (never the other way round); a
// responder takes only its request's. A connection's socket is only shut
// down (never closed) by the reaper, and only while libmicrohttpd has not
// yet reported it closed: libmicrohttpd closes the descriptor after that
// report, so the descriptor the reaper shuts down is always the
// connection's own.
#ifndef INFRATRAIL_CORE_HTTP_HTTP_SERVER_H_
#define INFRATRAIL_CORE_HTTP_HTTP_SERVER_H_

#include <cstdarg>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace infratrail {

// A response body with its validator, shared with a cache.
struct HttpBody {
  std::string bytes;
  std::string etag;  // quoted strong ETag, may be empty
};

struct HttpReply {
  int status = 200;
  // If set, sent as the body without a copy (held until the last byte is
  // sent or the connection closes), with its ETag. HEAD and 304 send its
  // length and no bytes.
  std::shared_ptr<const HttpBody> body;
  std::string text;                // otherwise, the body (any status)
  absl::string_view content_type;  // static strings; not sent on 304
  absl::string_view cache_control;
  absl::string_view allow;  // set on 405
  int retry_after_s = 0;    // Retry-After when > 0 (503, 429)
  // Sent with `Access-Control-Allow-Origin: *`, so that a script of any web
  // site can read it. False for what only the port's own pages may read
  // (the monitor's console: a page elsewhere could otherwise read it from
  // a browser that can reach the port).
  bool any_origin = true;
  // Pages for browsers: sent as Content-Security-Policy, with
  // `Referrer-Policy: no-referrer` and `X-Frame-Options: DENY`. Empty: none.
  std::string content_security_policy;
};

// A reply of `text` with Content-Type `content_type` (a static string) and
// `Cache-Control: no-store`: the handlers' small answers.
HttpReply TextReply(int status, std::string text,
                    absl::string_view content_type = "text/plain; charset=utf-8");

// The origin hash in a `/<sha256hex(origin)>/checkpoint` URL (64 lowercase
// hex digits), the path at which witnesses and monitors serve a log's
// checkpoint; nullopt for any other URL.
std::optional<absl::string_view> CheckpointPathOriginHash(absl::string_view url);

// One request, whole. The views are valid only until HttpHandler::Handle
// returns.
struct HttpRequest {
  absl::string_view method;
  absl::string_view url;  // exact bytes sent (no query), never percent-decoded
  // The query's `name[=value]` pairs as sent (never percent-decoded),
  // joined by '&' without the empty ones; "" if none.
  absl::string_view query;
  absl::string_view if_none_match;  // "" if absent
  absl::string_view content_type;   // "" if absent
  absl::string_view body;           // the whole body (at most options.max_body_bytes)
  // The per-address key: 4 bytes for IPv4 (also v4-mapped), the first
  // 8 bytes (the /64) for IPv6, "" otherwise.
  absl::string_view peer;
};

// Answers one request; call exactly once, from any thread, at any time.
// Calling it after the connection was cut (deadline, Stop) is a harmless
// no-op, also after the server is destroyed. Destroying it uncalled (a
// handler bug) answers 500 rather than leave the client to the deadline.
using HttpResponder = absl::AnyInvocable<void(HttpReply) &&>;

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Called on a polling thread once a request (head and whole body) has
  // arrived. Call `respond` either before returning (answered at once) or
  // later from any thread: the connection is then suspended and holds no
  // polling thread until `respond` runs. Must be quick: slow work belongs
  // on a thread of the handler's own, answering from there.
  virtual void Handle(const HttpRequest& request, HttpResponder respond) = 0;
};

// The transport's metrics; any may be null.
struct HttpServerMetrics {
  prometheus::Gauge* open_connections = nullptr;       // connections held
  prometheus::Counter* refused_total_cap = nullptr;    // closed at accept: total cap
  prometheus::Counter* refused_per_address = nullptr;  // closed at accept: per-address cap
  prometheus::Counter* cut_head = nullptr;             // shut down at the head deadline
  prometheus::Counter* cut_send = nullptr;             // shut down at the send deadline
  prometheus::Counter* body_too_large = nullptr;       // answered 413
};

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
  // The request head and body must have arrived in full, and been
  // answered, this long after the connection was accepted, however
  // steadily bytes arrive.
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
  // The largest request body accepted; a larger one is 413 (see the file
  // comment). 0: any request with a body is 413.
  size_t max_body_bytes = 0;
  // How address errors name the setting (the tile server's flag, the
  // witness's `--listen`).
  std::string flag_name = "--http-addr";
  // HTTPS: PEM files of the certificate (the server's first, then any
  // intermediates) and of its unencrypted private key, both or neither;
  // read once by Start, each at most kMaxTlsFileBytes. Empty: plain HTTP.
  // (No client certificates: libmicrohttpd 0.9.75 can ask for one, with
  // MHD_OPTION_HTTPS_MEM_TRUST, but leaves checking it to GnuTLS calls of
  // the application's own.)
  std::string tls_cert_file = "";
  std::string tls_key_file = "";
  // How TLS errors name the settings: `<prefix>cert` and `<prefix>key`
  // (`--tls-cert`, `--tls-key`).
  std::string tls_flag_prefix = "--tls-";
};

class HttpServer {
 public:
  // Listens and serves `handler` (which must outlive the server).
  // InvalidArgument for a malformed address; Unavailable if it cannot
  // listen. Both name options.flag_name and the address.
  // With TLS, InvalidArgument naming the flag (tls_flag_prefix) and file
  // when only one of the two files is given, a file cannot be read or is
  // larger than kMaxTlsFileBytes, the certificate file holds no PEM
  // certificate, the key file no unencrypted PEM private key, or GnuTLS
  // refuses the pair (e.g. "the key does not match the certificate");
  // FailedPrecondition if libmicrohttpd was built without TLS.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           HttpHandler* handler,
                                                           HttpServerMetrics metrics);
  ~HttpServer();  // Stop()

  int port() const { return port_; }
  // The connection cap in force (options.max_connections, or its default).
  unsigned max_connections() const { return max_connections_; }
  // Connections currently held.
  size_t connections() const;
  // Waits until at most `n` connections are held (for tests and draining);
  // false if that did not happen within `timeout`.
  bool WaitForConnectionsAtMost(size_t n, absl::Duration timeout) const;
  // Waits until Stop has begun (from then on new clients are closed at
  // once); false if it did not within `timeout`.
  bool WaitForStopping(absl::Duration timeout) const;

  // Stops accepting at once; gives requests still waiting for their answer
  // up to kStopGrace (or their head deadline, if sooner) to get it and have
  // it sent (an answer already given is sent, not cut off); closes
  // those still waiting without a response (their responders become
  // no-ops) and every other connection; joins the threads. The handler is
  // not called after Stop returns. Idempotent; not concurrently with itself.
  void Stop();

  // How long Stop waits for answers still pending.
  static constexpr absl::Duration kStopGrace = absl::Seconds(1);
  // The largest certificate or key file Start reads.
  static constexpr size_t kMaxTlsFileBytes = size_t{1} << 20;

 private:
  struct Conn;
  struct Request;
  class Responder;
  enum class Deadline { kHead, kSend };

  HttpServer() = default;

  // libmicrohttpd callbacks (static trampolines in the .cc call these);
  // the ints are MHD_Result.
  bool Admit(const void* addr, size_t addr_len);
  void Opened(MHD_Connection* connection, void** socket_context);
  void Closed(void** socket_context);
  void Completed(MHD_Connection* connection, void** con_cls);
  int Serve(MHD_Connection* connection, const char* url, const char* method,
            const char* upload_data, size_t* upload_data_size, void** con_cls);
  // Serve's parts: sends the request's answer, or parks the request until
  // it has one; refuses a body over the cap; queues one response.
  int AnswerOrPark(MHD_Connection* connection, const std::shared_ptr<Request>& request);
  int RefuseBody(MHD_Connection* connection, Request& request);
  int Answer(MHD_Connection* connection, const Request& request, const HttpReply& reply,
             bool close);
  // Gives up on a parked request (deadline, Stop): libmicrohttpd gets the
  // connection back and closes it without a response.
  static void Abandon(Request& request);
  void SetDeadline(Conn* conn, Deadline kind, absl::Duration after);
  void Reap();
  // libmicrohttpd's messages, kept only while Start runs (to tell why it
  // failed); later ones, one per misbehaving client, are dropped.
  void Log(const char* format, va_list args);

  friend struct HttpServerCallbacks;

  MHD_Daemon* daemon_ = nullptr;
  HttpHandler* handler_ = nullptr;
  HttpServerMetrics metrics_;
  HttpServerOptions options_;
  unsigned max_connections_ = 0;
  int port_ = 0;
  std::thread reaper_;

  mutable absl::Mutex mu_;
  absl::CondVar reaper_wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // the reaper ends
  bool closing_ ABSL_GUARDED_BY(mu_) = false;   // Stop has begun
  // Stop's grace is over: a request still unanswered is closed, never
  // parked (libmicrohttpd must not stop with a connection suspended).
  bool grace_over_ ABSL_GUARDED_BY(mu_) = false;
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
  // Requests parked for a deferred answer, by connection: from the moment
  // they are suspended until libmicrohttpd hands them back (or completes
  // them). Holding a connection's entry means it may be suspended, which
  // its request's own state tells for sure.
  absl::flat_hash_map<Conn*, std::shared_ptr<Request>> parked_ ABSL_GUARDED_BY(mu_);
  // Connections with an answer queued and not yet sent in full (Answer to
  // Completed or Closed): Stop lets them finish within its grace, so an
  // answer given just before it is not cut off. A parked connection
  // enters here in the same step it leaves parked_.
  absl::flat_hash_set<Conn*> sending_ ABSL_GUARDED_BY(mu_);
  // Requests handed to the handler and neither parked nor answered yet.
  size_t handling_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration reap_every_;

  absl::Mutex log_mu_;
  bool starting_ ABSL_GUARDED_BY(log_mu_) = true;
  std::string start_log_ ABSL_GUARDED_BY(log_mu_);
};

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_HTTP_HTTP_SERVER_H_
