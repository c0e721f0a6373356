#include "verifier/monitor/log_source.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace infratrail {

absl::StatusOr<std::string> BodyOf(const std::string& url, absl::StatusOr<HttpResponse> response) {
  if (!response.ok()) return response.status();
  const long code = response->status;
  if (code == 200) return std::move(response->body);
  std::string what = absl::StrCat("GET ", url, ": HTTP ", code);
  if (code == 404) return absl::NotFoundError(what);
  if (code == 429 || code >= 500) return absl::UnavailableError(what);
  return absl::FailedPreconditionError(what);
}

absl::StatusOr<std::unique_ptr<HttpLogSource>> HttpLogSource::Create(
    std::string base_url, const HttpFetcherOptions& options) {
  if (!absl::StartsWith(base_url, "http://") && !absl::StartsWith(base_url, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("log URL \"", base_url, "\" is not http:// or https://"));
  }
  if (absl::StrContains(base_url, "?") || absl::StrContains(base_url, "#")) {
    return absl::InvalidArgumentError(
        absl::StrCat("log URL \"", base_url, "\": a tiles base URL has no query or fragment"));
  }
  if (!absl::EndsWith(base_url, "/")) base_url += "/";
  absl::StatusOr<std::unique_ptr<HttpFetcher>> fetcher = HttpFetcher::Create(options);
  if (!fetcher.ok()) return fetcher.status();
  return std::unique_ptr<HttpLogSource>(
      new HttpLogSource(std::move(base_url), *std::move(fetcher)));
}

absl::StatusOr<std::string> HttpLogSource::Checkpoint(bool bypass_caches) {
  std::string url = absl::StrCat(base_, "checkpoint");
  // A query string static servers ignore and caches key on: a fresh copy.
  if (bypass_caches) {
    absl::StrAppend(&url, "?fresh=", absl::ToUnixNanos(absl::Now()), "-", ++cache_buster_);
  }
  return BodyOf(url, fetcher_->Get(url, kMaxCheckpointBytes));
}

std::vector<absl::StatusOr<std::string>> HttpLogSource::StreamTiles(absl::Span<const TileId> tiles,
                                                                    const OnTile& on_tile) {
  std::vector<HttpGet> gets;
  gets.reserve(tiles.size());
  for (const TileId& t : tiles) {
    gets.push_back(HttpGet{.url = absl::StrCat(base_, t.Path()),
                           .max_body_bytes = t.entries ? kMaxBundleBytes : kMaxHashTileBytes});
  }
  std::vector<absl::StatusOr<std::string>> out(tiles.size(), absl::InternalError("not fetched"));
  fetcher_->GetMany(gets, [&](size_t i, absl::StatusOr<HttpResponse>& response) {
    out[i] = BodyOf(gets[i].url, std::move(response));
    if (on_tile) on_tile(i, out[i]);
  });
  return out;
}

}  // namespace infratrail
