#include "server/tile_cache.h"

#include <algorithm>

#include "core/check.h"
#include "rocksdb/cache.h"

namespace infratrail {
namespace {

// Shards of at least 32 MiB, so that the largest value there is (an entry
// bundle of 256 entries of 64 KiB, 16.8 MiB) fits in one, and at most 16: a
// lookup holds its shard's mutex for a hash probe and a list splice, and 16
// shards leave the few threads of a 2-4 core server rarely colliding.
// RocksDB's own default (shards of 512 KiB, up to 64) would leave bundles
// over 8 MiB uncacheable at 512 MiB.
int ShardBits(size_t capacity) {
  constexpr size_t kMinShard = size_t{32} << 20;
  constexpr int kMaxBits = 4;
  int bits = 0;
  while (bits < kMaxBits && (capacity >> (bits + 1)) >= kMinShard) ++bits;
  return bits;
}

// What RocksDB charges an entry beyond its value (its handle and the key);
// generous, so that a value admitted always fits its shard.
constexpr size_t kEntryOverhead = 256;

// The cache holds one of these per entry, owned by RocksDB (freed by
// Delete when the entry is evicted and no lookup holds it).
struct Entry {
  std::shared_ptr<const void> value;
  const void* type;
};

void Delete(const rocksdb::Slice& /*key*/, void* entry) { delete static_cast<Entry*>(entry); }

// The key: user, bundle or hash tile, level, index, width; fixed width, so
// no two tiles share one.
class Key {
 public:
  Key(TileCache::User user, const TileId& tile) {
    bytes_[0] = static_cast<char>(user);
    bytes_[1] = static_cast<char>(tile.entries);
    bytes_[2] = static_cast<char>(tile.level);
    for (int i = 0; i < 8; ++i) bytes_[3 + i] = static_cast<char>(tile.index >> (56 - 8 * i));
    bytes_[11] = static_cast<char>(tile.width >> 8);
    bytes_[12] = static_cast<char>(tile.width);
  }
  rocksdb::Slice slice() const { return rocksdb::Slice(bytes_, sizeof(bytes_)); }

 private:
  char bytes_[13];
};

}  // namespace

TileCache::TileCache(size_t capacity_bytes, Metrics* metrics)
    : capacity_(capacity_bytes),
      max_value_((capacity_bytes >> ShardBits(capacity_bytes)) -
                 std::min(kEntryOverhead, capacity_bytes >> ShardBits(capacity_bytes))),
      metrics_(metrics) {
  rocksdb::LRUCacheOptions options;
  options.capacity = capacity_bytes;
  options.num_shard_bits = ShardBits(capacity_bytes);
  options.strict_capacity_limit = false;  // values in use stay usable; see Insert
  options.high_pri_pool_ratio = 0.5;      // the file comment says why
  options.low_pri_pool_ratio = 0;
  cache_ = rocksdb::NewLRUCache(options);
  if (metrics_ != nullptr) metrics_->tile_cache_capacity_bytes.Set(static_cast<double>(capacity_));
}

TileCache::~TileCache() = default;

std::shared_ptr<const void> TileCache::LookupErased(User user, const TileId& tile, TypeTag type) {
  const size_t u = static_cast<size_t>(user);
  rocksdb::Cache::Handle* h = cache_->Lookup(Key(user, tile).slice());
  if (h == nullptr) {
    misses_[u].fetch_add(1, std::memory_order_relaxed);
    if (metrics_ != nullptr) metrics_->CountTileCache(user, /*hit=*/false);
    return nullptr;
  }
  const Entry& entry = *static_cast<const Entry*>(cache_->Value(h));
  INFRATRAIL_CHECK(entry.type == type)
      << "tile cache: " << tile.Path() << " looked up as another type";
  std::shared_ptr<const void> value = entry.value;
  cache_->Release(h);
  hits_[u].fetch_add(1, std::memory_order_relaxed);
  if (metrics_ != nullptr) metrics_->CountTileCache(user, /*hit=*/true);
  return value;
}

void TileCache::InsertErased(User user, const TileId& tile, std::shared_ptr<const void> value,
                             TypeTag type, size_t bytes) {
  if (bytes > max_value_) return;
  // Proofs' expanded tiles go straight to the high-priority pool (the file
  // comment says why); bodies get there by being looked up again.
  const auto priority =
      user == User::kProofs ? rocksdb::Cache::Priority::HIGH : rocksdb::Cache::Priority::LOW;
  auto* entry = new Entry{std::move(value), type};
  // Without strict_capacity_limit, Insert never fails, and on the paths
  // where RocksDB drops the entry it calls Delete itself.
  (void)cache_->Insert(Key(user, tile).slice(), entry, bytes, &Delete, nullptr, priority);
  if (metrics_ != nullptr) metrics_->tile_cache_bytes.Set(static_cast<double>(cache_->GetUsage()));
}

TileCache::Stats TileCache::stats(User user) const {
  const size_t u = static_cast<size_t>(user);
  return Stats{hits_[u].load(std::memory_order_relaxed),
               misses_[u].load(std::memory_order_relaxed)};
}

size_t TileCache::bytes() const { return cache_->GetUsage(); }

}  // namespace infratrail
