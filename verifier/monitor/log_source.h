// Where the monitor reads a log from: its latest checkpoint and its C2SP
// tlog-tiles (hash tiles and entry bundles). Nothing read is trusted; the
// tree auditor checks every byte. A source only reports whether it could
// read: its errors are operational, never findings.
#ifndef INFRATRAIL_VERIFIER_MONITOR_LOG_SOURCE_H_
#define INFRATRAIL_VERIFIER_MONITOR_LOG_SOURCE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/hash.h"
#include "core/http/http_fetcher.h"
#include "core/tile.h"

namespace infratrail {

// Largest responses accepted: a checkpoint note, a hash tile, and an entry
// bundle of 256 entries of the largest bundle entry size.
inline constexpr size_t kMaxCheckpointBytes = 1 << 20;
inline constexpr size_t kMaxHashTileBytes = size_t{kTileWidth} * 32;
inline constexpr size_t kMaxBundleBytes = size_t{kTileWidth} * (2 + kMaxBundleEntrySize);

class LogSource {
 public:
  virtual ~LogSource() = default;

  // The latest checkpoint note, as served. `bypass_caches` asks caches on
  // the way (CDNs, proxies) for a fresh copy: the monitor re-reads with it
  // before it reports a smaller checkpoint than the one it trusts.
  // Errors: Unavailable, DeadlineExceeded, ResourceExhausted (too large),
  // NotFound.
  virtual absl::StatusOr<std::string> Checkpoint(bool bypass_caches) = 0;

  // The bytes of each tile or bundle, in the order asked; each result fails
  // on its own as Checkpoint does. Never called for a tile beyond the size
  // of a checkpoint the monitor has verified.
  virtual std::vector<absl::StatusOr<std::string>> Tiles(absl::Span<const TileId> tiles) = 0;

  // Called with each tile's index in the request and its result as soon as
  // it is ready, on the calling thread, before StreamTiles returns; in any
  // order. The result is the element of the vector StreamTiles returns
  // (views into its bytes stay valid as long as that vector's storage).
  using OnTile = std::function<void(size_t index, const absl::StatusOr<std::string>& body)>;

  // Tiles(), handing each result to `on_tile` as it arrives: a source that
  // fetches several at once (HTTP) lets the caller work on one while the
  // others are still on the way. By default, after Tiles() returns.
  virtual std::vector<absl::StatusOr<std::string>> StreamTiles(absl::Span<const TileId> tiles,
                                                               const OnTile& on_tile) {
    std::vector<absl::StatusOr<std::string>> out = Tiles(tiles);
    for (size_t i = 0; i < out.size(); ++i) on_tile(i, out[i]);
    return out;
  }

  // Whether Tiles() serves hash tiles. A source that does not (the gRPC
  // API) serves entry bundles only and proves consistency with
  // ConsistencyProof(); the auditor then skips the tile checks.
  virtual bool ServesHashTiles() const { return true; }

  // The log's consistency proof between two sizes it signed checkpoints
  // for, as served (checked by the caller); only where ServesHashTiles()
  // is false (the auditor builds proofs from the tiles otherwise).
  virtual absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t from, uint64_t to) {
    return absl::UnimplementedError("this source serves no consistency proofs");
  }

  // Counted in metrics and messages: "https://log.example/".
  virtual std::string Describe() const = 0;
};

// A tlog-tiles log over HTTP(S): BASE/checkpoint, BASE/tile/..., with
// 200 the only success; 404 is NotFound, 429 and 5xx Unavailable, any other
// status FailedPrecondition, each naming the URL and status.
class HttpLogSource final : public LogSource {
 public:
  // `base_url` with or without a trailing slash.
  static absl::StatusOr<std::unique_ptr<HttpLogSource>> Create(std::string base_url,
                                                               const HttpFetcherOptions& options);

  absl::StatusOr<std::string> Checkpoint(bool bypass_caches) override;
  std::vector<absl::StatusOr<std::string>> Tiles(absl::Span<const TileId> tiles) override {
    return StreamTiles(tiles, nullptr);
  }
  std::vector<absl::StatusOr<std::string>> StreamTiles(absl::Span<const TileId> tiles,
                                                       const OnTile& on_tile) override;
  std::string Describe() const override { return base_; }

 private:
  HttpLogSource(std::string base, std::unique_ptr<HttpFetcher> fetcher)
      : base_(std::move(base)), fetcher_(std::move(fetcher)) {}

  std::string base_;  // ends with '/'
  std::unique_ptr<HttpFetcher> fetcher_;
  uint64_t cache_buster_ = 0;
};

// Maps an HTTP response to the body or the status described above.
absl::StatusOr<std::string> BodyOf(const std::string& url, absl::StatusOr<HttpResponse> response);

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_LOG_SOURCE_H_
