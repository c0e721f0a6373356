#include "server/tile_http.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/hash.h"
#include "server/tile_source.h"

namespace infratrail {
namespace {

constexpr absl::string_view kOctets = "application/octet-stream";
constexpr absl::string_view kText = "text/plain; charset=utf-8";
constexpr absl::string_view kImmutable = "public, max-age=31536000, immutable";
constexpr absl::string_view kPartial = "public, max-age=60";
constexpr absl::string_view kNoStore = "no-store";

std::shared_ptr<const HttpBody> MakeBody(std::string bytes) {
  auto body = std::make_shared<HttpBody>();
  // 128 bits of SHA-256: a strong validator for bytes that never change.
  body->etag = absl::StrCat("\"", HashToHex(Sha256(bytes)).substr(0, 32), "\"");
  body->bytes = std::move(bytes);
  return body;
}

HttpResponse Error(int status, std::string text) {
  HttpResponse r;
  r.status = status;
  r.text = std::move(text);
  r.text.push_back('\n');
  r.content_type = kText;
  r.cache_control = kNoStore;
  return r;
}

HttpResponse Ok(std::shared_ptr<const HttpBody> body, absl::string_view content_type,
                absl::string_view cache_control, absl::string_view if_none_match) {
  HttpResponse r;
  r.status = !if_none_match.empty() && IfNoneMatchHits(if_none_match, body->etag) ? 304 : 200;
  r.body = std::move(body);
  r.content_type = content_type;
  r.cache_control = cache_control;
  return r;
}

HttpRoute RouteOf(absl::string_view path) {
  if (path == "/checkpoint") return HttpRoute::kCheckpoint;
  if (absl::StartsWith(path, "/tile/entries/")) return HttpRoute::kEntries;
  if (absl::StartsWith(path, "/tile/")) return HttpRoute::kTile;
  return HttpRoute::kOther;
}

}  // namespace

bool IfNoneMatchHits(absl::string_view header, absl::string_view etag) {
  for (absl::string_view tag : absl::StrSplit(header, ',')) {
    tag = absl::StripAsciiWhitespace(tag);
    if (tag == "*") return true;
    absl::ConsumePrefix(&tag, "W/");
    if (tag == etag) return true;
  }
  return false;
}

TileHttpHandler::TileHttpHandler(LogStorage* storage, LatestFn latest, TileHttpOptions options,
                                 Metrics* metrics)
    : storage_(storage),
      latest_(std::move(latest)),
      options_(options),
      checkpoint_cache_control_(
          absl::StrCat("public, max-age=", absl::ToInt64Seconds(options.checkpoint_max_age))),
      metrics_(metrics) {}

HttpResponse TileHttpHandler::Handle(absl::string_view method, absl::string_view path,
                                     absl::string_view if_none_match) {
  const HttpRoute route = RouteOf(path);
  HttpResponse r;
  if (method != "GET" && method != "HEAD") {
    r = Error(405, absl::StrCat("method ", method, " not allowed: this API is read-only"));
    r.allow = "GET, HEAD";
  } else if (route == HttpRoute::kCheckpoint) {
    r = Checkpoint(if_none_match);
  } else if (route == HttpRoute::kOther) {
    r = Error(404,
              absl::StrCat(path, ": not found (this server has /checkpoint and /tile/... only)"));
  } else {
    r = Tile(path, if_none_match);
  }
  if (metrics_ != nullptr) metrics_->CountHttp(route, r.status);
  return r;
}

HttpResponse TileHttpHandler::Checkpoint(absl::string_view if_none_match) {
  std::shared_ptr<const PublishedCheckpoint> cp = latest_();
  if (cp == nullptr) return Error(503, "no checkpoint has been published yet");
  std::shared_ptr<const HttpBody> body;
  {
    absl::MutexLock l(&mu_);
    if (checkpoint_ != cp) {
      checkpoint_ = cp;
      checkpoint_body_ = MakeBody(cp->note);
    }
    body = checkpoint_body_;
  }
  return Ok(std::move(body), kText, checkpoint_cache_control_, if_none_match);
}

HttpResponse TileHttpHandler::Tile(absl::string_view path, absl::string_view if_none_match) {
  absl::StatusOr<TileId> id = ParseTilePath(path);
  if (!id.ok()) return Error(400, std::string(id.status().message()));
  std::shared_ptr<const PublishedCheckpoint> cp = latest_();
  if (cp == nullptr) return Error(503, "no checkpoint has been published yet");
  // Entry bundles have the widths of level-0 tiles.
  const uint32_t have = TileWidthAt(id->entries ? 0 : id->level, id->index, cp->size);
  if (have == 0 || (id->IsFull() && have < kTileWidth) || id->width > have) {
    return Error(404, absl::StrCat(id->Path(), ": not in the published tree of size ", cp->size,
                                   have == 0 ? "" : absl::StrCat(" (width ", have, " there)")));
  }
  const absl::string_view cache_control = id->IsFull() ? kImmutable : kPartial;
  if (std::shared_ptr<const HttpBody> hit = CacheGet(*id)) {
    return Ok(std::move(hit), kOctets, cache_control, if_none_match);
  }
  absl::StatusOr<std::string> bytes = ReadTileBytes(*storage_, *id);
  if (!bytes.ok()) {
    return Error(500, absl::StrCat("reading ", id->Path(), ": ", bytes.status().ToString()));
  }
  std::shared_ptr<const HttpBody> body = MakeBody(*std::move(bytes));
  CachePut(*id, body);
  return Ok(std::move(body), kOctets, cache_control, if_none_match);
}

std::shared_ptr<const HttpBody> TileHttpHandler::CacheGet(const TileId& id) {
  absl::MutexLock l(&mu_);
  auto it = index_.find(id);
  if (it == index_.end()) {
    ++misses_;
    if (metrics_ != nullptr) metrics_->http_cache_misses.Increment();
    return nullptr;
  }
  ++hits_;
  if (metrics_ != nullptr) metrics_->http_cache_hits.Increment();
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void TileHttpHandler::CachePut(const TileId& id, std::shared_ptr<const HttpBody> body) {
  const size_t size = body->bytes.size();
  if (size > options_.cache_bytes) return;
  absl::MutexLock l(&mu_);
  if (index_.contains(id)) return;  // another request read it meanwhile
  lru_.emplace_front(id, std::move(body));
  index_.emplace(id, lru_.begin());
  cache_bytes_ += size;
  while (cache_bytes_ > options_.cache_bytes) {
    cache_bytes_ -= lru_.back().second->bytes.size();
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  if (metrics_ != nullptr) metrics_->http_cache_bytes.Set(static_cast<double>(cache_bytes_));
}

TileHttpHandler::CacheStats TileHttpHandler::cache_stats() const {
  absl::MutexLock l(&mu_);
  return CacheStats{hits_, misses_, cache_bytes_, index_.size()};
}

}  // namespace infratrail
