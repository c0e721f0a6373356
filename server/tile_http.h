// TileHttpHandler: the C2SP tlog-tiles read API, an HttpHandler for the
// shared transport (core/http/http_server.h carries it over libmicrohttpd):
//
//   GET|HEAD /checkpoint                    the latest published checkpoint
//   GET|HEAD /tile/<L>/<N>[.p/<W>]          hash tiles, height 8
//   GET|HEAD /tile/entries/<N>[.p/<W>]      entry bundles
//
// Only the published checkpoint's tree is served, never sequenced-but-
// unsigned entries. A full tile exists once the tree holds all 256 of its
// nodes; a partial tile `.p/<W>` is served for every width the tree holds
// (a tile's first W hashes never change, so any such width is exact and
// cacheable). Anything beyond the tree is 404; a malformed tile path
// (leading zeros, a group without its x prefix, width 0 or 256, too many
// digits, `..`) is 400 and never reaches storage.
//
// Caching: full tiles are `immutable` for a year, partial ones a minute
// (their bytes are fixed too, but clients move on to the full tile and a
// static mirror may drop them), the checkpoint a few seconds. Every 200
// carries a strong ETag (a content hash), and If-None-Match gets 304. Bodies
// are kept in the log's TileCache (server/tile_cache.h: one byte budget,
// shared with proofs) keyed by (tile, width), so a hot tile costs one
// storage read in total.
//
// Paths are matched byte for byte: the transport must not percent-decode
// them, and any `%` is 400 (a tile has exactly one spelling, so a cache or
// an auditor never sees one tile under two names). Error bodies say what
// was wrong without echoing the request.
//
// Memory: a GET answered 200 holds its body "in flight" for as long as the
// caller keeps the response's `body` (the transport keeps it until the last
// byte is sent). Distinct bodies in flight are counted against
// `in_flight_bytes`, whether or not the cache still holds them; a request
// whose body would exceed it is answered 503 with Retry-After; a cache miss
// is refused before its storage read unless the largest body the read could
// return (256 hashes, or 256 entries of 64 KiB) would fit. The bound admits a body
// already in flight (it costs nothing more), any body when nothing is in
// flight, and always the checkpoint (one small body every monitor needs).
// The handler's memory is therefore at most the tile cache's budget +
// in_flight_bytes (+ one body being read per transport thread).
//
// Every request is answered before Handle returns. Thread-safe.
#ifndef INFRATRAIL_SERVER_TILE_HTTP_H_
#define INFRATRAIL_SERVER_TILE_HTTP_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/http/http_server.h"
#include "core/tile.h"
#include "server/checkpoint_publisher.h"
#include "server/metrics.h"
#include "server/storage.h"
#include "server/tile_cache.h"

namespace infratrail {

struct TileHttpOptions {
  // The checkpoint's max-age: how stale a cache in front may serve it.
  absl::Duration checkpoint_max_age = absl::Seconds(2);
  // Bound on the bytes of distinct bodies held by responses not yet sent.
  size_t in_flight_bytes = size_t{128} << 20;
};

// Seconds a client is told to wait (Retry-After) when a request is shed.
inline constexpr int kHttpShedRetryAfterSeconds = 5;

class InFlightBudget;

// Answers carry a body (HttpBody, the cache's, with a strong ETag) for 200
// and 304, `text` (text/plain) for errors.
class TileHttpHandler : public HttpHandler {
 public:
  using LatestFn = std::function<std::shared_ptr<const PublishedCheckpoint>()>;

  // `latest` returns the published checkpoint (null before the first);
  // `cache` (the log's, shared with proofs) must outlive the handler;
  // `metrics` may be null.
  TileHttpHandler(LogStorage* storage, LatestFn latest, TileHttpOptions options, TileCache* cache,
                  Metrics* metrics);

  // Answers at once with Handle(method, url, if_none_match) below; the
  // request's body is ignored (the transport refuses any, max_body_bytes 0).
  void Handle(const HttpRequest& request, HttpResponder respond) override;

  // The answer to one request. `if_none_match`: the request's
  // If-None-Match header, empty if absent. HEAD gets the same answer as
  // GET; the transport drops the body.
  HttpReply Handle(absl::string_view method, absl::string_view path,
                   absl::string_view if_none_match);

  // Bytes of distinct bodies currently in flight (see the file comment).
  size_t in_flight_bytes() const;

 private:
  HttpReply Checkpoint(absl::string_view if_none_match, bool get);
  HttpReply Tile(absl::string_view path, absl::string_view if_none_match, bool get);
  HttpReply Shed();

  LogStorage* const storage_;
  const LatestFn latest_;
  const TileHttpOptions options_;
  const std::string checkpoint_cache_control_;
  TileCache* const cache_;
  Metrics* const metrics_;
  // Shared with the bodies it counts, which may outlive the handler.
  const std::shared_ptr<InFlightBudget> in_flight_;

  mutable absl::Mutex mu_;
  // The checkpoint body, rebuilt when the published checkpoint changes.
  std::shared_ptr<const PublishedCheckpoint> checkpoint_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const HttpBody> checkpoint_body_ ABSL_GUARDED_BY(mu_);
};

// True if an If-None-Match header value matches `etag` (a quoted strong
// tag): `*`, or any listed tag equal to it, weak or not (RFC 9110 13.1.2
// uses the weak comparison for If-None-Match).
bool IfNoneMatchHits(absl::string_view header, absl::string_view etag);

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_TILE_HTTP_H_
