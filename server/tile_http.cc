#include "server/tile_http.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
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

HttpReply Error(int status, std::string text) {
  HttpReply r;
  r.status = status;
  r.text = std::move(text);
  r.text.push_back('\n');
  r.content_type = kText;
  r.cache_control = kNoStore;
  return r;
}

HttpReply Ok(std::shared_ptr<const HttpBody> body, absl::string_view content_type,
             absl::string_view cache_control, absl::string_view if_none_match) {
  HttpReply r;
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

// Counts the distinct bodies held by responses being sent. Thread-safe.
class InFlightBudget : public std::enable_shared_from_this<InFlightBudget> {
 public:
  InFlightBudget(size_t limit, Metrics* metrics) : limit_(limit), metrics_(metrics) {}

  // Whether a body of up to `size` bytes could be admitted now (checked
  // before a storage read, with the largest size the read could return).
  bool MayFit(size_t size) const {
    absl::MutexLock l(&mu_);
    return bytes_ == 0 || bytes_ + size <= limit_;
  }

  size_t bytes() const {
    absl::MutexLock l(&mu_);
    return bytes_;
  }

  // `body`, held in flight until the returned pointer and every copy of it
  // are dropped; null if it does not fit (never when `always`).
  std::shared_ptr<const HttpBody> Lease(std::shared_ptr<const HttpBody> body, bool always) {
    const size_t size = body->bytes.size();
    {
      absl::MutexLock l(&mu_);
      size_t& uses = uses_[body.get()];
      if (uses == 0) {
        if (!always && bytes_ != 0 && bytes_ + size > limit_) {
          uses_.erase(body.get());
          return nullptr;
        }
        bytes_ += size;
        Publish();
      }
      ++uses;
    }
    auto held = std::make_shared<Held>(std::move(body), shared_from_this());
    return std::shared_ptr<const HttpBody>(held, held->body.get());
  }

 private:
  struct Held {
    Held(std::shared_ptr<const HttpBody> b, std::shared_ptr<InFlightBudget> o)
        : body(std::move(b)), owner(std::move(o)) {}
    ~Held() { owner->Release(*body); }
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;
    std::shared_ptr<const HttpBody> body;
    std::shared_ptr<InFlightBudget> owner;
  };

  void Release(const HttpBody& body) {
    absl::MutexLock l(&mu_);
    auto it = uses_.find(&body);
    if (--it->second == 0) {
      uses_.erase(it);
      bytes_ -= body.bytes.size();
      Publish();
    }
  }

  void Publish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (metrics_ != nullptr) metrics_->http_in_flight_bytes.Set(static_cast<double>(bytes_));
  }

  const size_t limit_;
  Metrics* const metrics_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<const HttpBody*, size_t> uses_ ABSL_GUARDED_BY(mu_);  // leases per body
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

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
                                 TileCache* cache, Metrics* metrics)
    : storage_(storage),
      latest_(std::move(latest)),
      options_(options),
      checkpoint_cache_control_(
          absl::StrCat("public, max-age=", absl::ToInt64Seconds(options.checkpoint_max_age))),
      cache_(cache),
      metrics_(metrics),
      in_flight_(std::make_shared<InFlightBudget>(options.in_flight_bytes, metrics)) {}

void TileHttpHandler::Handle(const HttpRequest& request, HttpResponder respond) {
  std::move(respond)(Handle(request.method, request.url, request.if_none_match));
}

HttpReply TileHttpHandler::Handle(absl::string_view method, absl::string_view path,
                                  absl::string_view if_none_match) {
  const HttpRoute route = RouteOf(path);
  const bool get = method == "GET";
  HttpReply r;
  if (!get && method != "HEAD") {
    r = Error(405, "method not allowed: this API is read-only (GET, HEAD)");
    r.allow = "GET, HEAD";
  } else if (absl::StrContains(path, '%')) {
    r = Error(400, "percent-encoded path: tile paths have one spelling, in plain ASCII");
  } else if (route == HttpRoute::kCheckpoint) {
    r = Checkpoint(if_none_match, get);
  } else if (route == HttpRoute::kOther) {
    r = Error(404, "not found: this server has /checkpoint and /tile/... only");
  } else {
    r = Tile(path, if_none_match, get);
  }
  if (metrics_ != nullptr) metrics_->CountHttp(route, r.status);
  return r;
}

HttpReply TileHttpHandler::Checkpoint(absl::string_view if_none_match, bool get) {
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
  HttpReply r = Ok(std::move(body), kText, checkpoint_cache_control_, if_none_match);
  if (get && r.status == 200) r.body = in_flight_->Lease(std::move(r.body), /*always=*/true);
  return r;
}

HttpReply TileHttpHandler::Tile(absl::string_view path, absl::string_view if_none_match, bool get) {
  absl::StatusOr<TileId> id = ParseTilePath(path);
  if (!id.ok()) {
    // The parser's message quotes the path; say only what the rule is.
    return Error(400,
                 "malformed tile path: expected /tile/<L>/<N>[.p/<W>] or "
                 "/tile/entries/<N>[.p/<W>] as C2SP tlog-tiles spells them");
  }
  std::shared_ptr<const PublishedCheckpoint> cp = latest_();
  if (cp == nullptr) return Error(503, "no checkpoint has been published yet");
  // Entry bundles have the widths of level-0 tiles.
  const uint32_t have = TileWidthAt(id->entries ? 0 : id->level, id->index, cp->size);
  if (have == 0 || (id->IsFull() && have < kTileWidth) || id->width > have) {
    return Error(404, absl::StrCat("tile not in the published tree of size ", cp->size,
                                   have == 0 ? "" : absl::StrCat(" (width ", have, " there)")));
  }
  const absl::string_view cache_control = id->IsFull() ? kImmutable : kPartial;
  std::shared_ptr<const HttpBody> body = cache_->Lookup<HttpBody>(TileCache::User::kHttp, *id);
  if (body == nullptr) {
    // Under pressure, refuse before reading rather than read and discard:
    // admit the read only if the largest body it could return would fit.
    const size_t most = static_cast<size_t>(id->width) *
                        (id->entries ? 2 + kMaxBundleEntrySize : size_t{kHashSize});
    if (get && !in_flight_->MayFit(most)) return Shed();
    absl::StatusOr<std::string> bytes = ReadTileBytes(*storage_, *id);
    if (!bytes.ok()) {
      return Error(500, absl::StrCat("reading ", id->Path(), ": ", bytes.status().ToString()));
    }
    body = MakeBody(*std::move(bytes));
    cache_->Insert<HttpBody>(TileCache::User::kHttp, *id, body,
                             sizeof(HttpBody) + body->bytes.capacity() + body->etag.capacity());
  }
  HttpReply r = Ok(std::move(body), kOctets, cache_control, if_none_match);
  if (get && r.status == 200) {
    r.body = in_flight_->Lease(std::move(r.body), /*always=*/false);
    if (r.body == nullptr) return Shed();
  }
  return r;
}

HttpReply TileHttpHandler::Shed() {
  if (metrics_ != nullptr) metrics_->http_requests_shed.Increment();
  HttpReply r = Error(503, "too many response bytes in flight; retry later");
  r.retry_after_s = kHttpShedRetryAfterSeconds;
  return r;
}

size_t TileHttpHandler::in_flight_bytes() const { return in_flight_->bytes(); }

}  // namespace infratrail
