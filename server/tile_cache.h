// TileCache: the log's one in-memory tile cache, under one byte budget,
// shared by its two readers: proofs (TreeReader keeps expanded hash tiles)
// and the tiles HTTP API (TileHttpHandler keeps response bodies). The Log
// owns it; both readers hold a pointer.
//
// It is RocksDB's LRUCache rather than an absl::Mutex-guarded map and list
// of our own: RocksDB is linked already, and its LRUCache is sharded,
// charges each entry its bytes plus its metadata, has the priority pool used
// below, and runs every RocksDB block cache. Measured against the two
// hand-written caches it replaced (bench/server_bench.cc, docs/benchmarks.md
// "One tile cache"): a hit costs a few tens of ns more on one thread (Lookup
// pins and unlinks the entry, Release relinks it: two trips through the
// shard's mutex) and no more under two contending threads; tile GETs over
// HTTP run at the same rate; proofs take 0.4-0.7x the CPU, as TreeReader now
// looks each tile up once per proof, not once per node, and no longer queues
// on one mutex.
// RocksDB 8 replaced Insert's deleter with a CacheItemHelper: moving past
// Debian 12's RocksDB 7.8 changes InsertErased and Delete only.
//
// Sharing one budget would let one reader evict the other: a monitor's
// first full audit fetches every bundle and tile exactly once and, in a
// plain LRU, would flush the proof tiles. Half the budget is therefore
// RocksDB's high-priority pool: an entry enters it when it is looked up
// again, and proofs' expanded tiles enter it at once (rebuilding one costs
// 255 hashes; a body costs one storage read). A one-pass sweep evicts its
// own entries first; entries in use survive it.
//
// Values are immutable and shared: a lookup returns a shared_ptr that stays
// valid after the entry is evicted; its bytes are then no longer counted
// (the HTTP handler bounds those separately, as bytes in flight).
//
// Thread-safe.
#ifndef INFRATRAIL_SERVER_TILE_CACHE_H_
#define INFRATRAIL_SERVER_TILE_CACHE_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "core/tile.h"
#include "server/metrics.h"

namespace rocksdb {
class Cache;
}  // namespace rocksdb

namespace infratrail {

class TileCache {
 public:
  // Who stores a value: each user has its own keys, stores one value type
  // (kProofs TreeReader's expanded tiles, kHttp HttpBody) and its own hit
  // and miss counts (a metric label, hence declared in metrics.h).
  using User = TileCacheUser;

  // `capacity_bytes` 0 caches nothing. `metrics` may be null.
  TileCache(size_t capacity_bytes, Metrics* metrics);
  ~TileCache();
  TileCache(const TileCache&) = delete;
  TileCache& operator=(const TileCache&) = delete;

  // What `user` cached under `tile`, or null; counts a hit or a miss.
  // T must be the type that user stores (checked: a mismatch is a bug).
  template <typename T>
  std::shared_ptr<const T> Lookup(User user, const TileId& tile) {
    return std::static_pointer_cast<const T>(LookupErased(user, tile, TypeOf<T>()));
  }

  // Caches `value` under (user, tile), replacing what was there, charged
  // `bytes` (what the value holds). A value over max_value_bytes() is not
  // cached: RocksDB would first evict its whole shard to make room.
  template <typename T>
  void Insert(User user, const TileId& tile, std::shared_ptr<const T> value, size_t bytes) {
    InsertErased(user, tile, std::move(value), TypeOf<T>(), bytes);
  }

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
  };
  Stats stats(User user) const;
  size_t capacity_bytes() const { return capacity_; }
  // Bytes charged by the entries in the cache (values and metadata).
  size_t bytes() const;
  // The largest value cached: a shard's share of the budget, less the
  // entry's own metadata.
  size_t max_value_bytes() const { return max_value_; }

 private:
  static constexpr size_t kUsers = 2;

  // One address per value type, to check Lookup's T against Insert's.
  using TypeTag = const void*;
  template <typename T>
  static TypeTag TypeOf() {
    static constexpr char kTag = 0;
    return &kTag;
  }

  std::shared_ptr<const void> LookupErased(User user, const TileId& tile, TypeTag type);
  void InsertErased(User user, const TileId& tile, std::shared_ptr<const void> value, TypeTag type,
                    size_t bytes);

  const size_t capacity_;
  const size_t max_value_;
  Metrics* const metrics_;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::array<std::atomic<uint64_t>, kUsers> hits_{};
  std::array<std::atomic<uint64_t>, kUsers> misses_{};
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_TILE_CACHE_H_
