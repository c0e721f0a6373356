// The server's Prometheus metrics, named infratrail_<component>_<what>_<unit>
// with bounded labels (STYLE.md habit 13). One Metrics per server, created
// on its registry and passed to every component; tests give each component
// its own registry.
//
// Thread-safe (prometheus-cpp metrics are).
#ifndef INFRATRAIL_SERVER_METRICS_H_
#define INFRATRAIL_SERVER_METRICS_H_

#include <array>
#include <iterator>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/http/http_server.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace infratrail {

// Routes of the tiles HTTP API, a bounded metric label.
enum class HttpRoute { kCheckpoint, kTile, kEntries, kOther };

// Users of the tile cache (server/tile_cache.h), a bounded metric label.
enum class TileCacheUser { kProofs, kHttp };

// One witness's metrics, for WitnessCollector (label witness=<policy name>).
struct WitnessMetrics {
  prometheus::Family<prometheus::Counter>* requests_family = nullptr;
  std::string witness;
  prometheus::Histogram* seconds = nullptr;  // add-checkpoint request latency
  prometheus::Gauge* size = nullptr;         // size it last cosigned, as known
  // infratrail_cosigning_requests_total{witness, outcome}.
  prometheus::Counter& requests(absl::string_view outcome) const {
    return requests_family->Add({{"witness", witness}, {"outcome", std::string(outcome)}});
  }
};

class Metrics {
 public:
  explicit Metrics(prometheus::Registry& registry);

  prometheus::Counter& entries_appended;   // new entries committed
  prometheus::Counter& entries_duplicate;  // submissions answered with an old index
  prometheus::Histogram& batch_entries;    // entries per sequencer batch
  prometheus::Histogram& batch_seconds;    // dequeue -> commit returned
  prometheus::Histogram& commit_seconds;   // storage commit (WriteBatch + fsync)
  prometheus::Gauge& queue_entries;        // entries waiting for the sequencer
  prometheus::Gauge& tree_size;            // committed tree size
  prometheus::Gauge& sequencer_healthy;    // 1 serving, 0 after a storage failure
  // Shared-database storage (docs/ha.md); a RocksDB server is its log's leader.
  prometheus::Gauge& leader;              // 1 while this server sequences and signs, else 0
  prometheus::Counter& leader_elections;  // times this server became leader
  prometheus::Counter& leader_stepdowns;  // times it stopped being leader
  prometheus::Counter& storage_connection_errors;    // database connections lost or refused
  prometheus::Counter& rejected_queue_full;          // RESOURCE_EXHAUSTED by back-pressure
  prometheus::Counter& rejected_disk_reserve;        // writes refused below the disk reserve
  prometheus::Counter& checkpoint_publish_failures;  // failed attempts (each is retried)
  prometheus::Gauge& checkpoint_publish_failing;     // 1 while publishing fails, else 0
  prometheus::Gauge& checkpoint_size;                // latest published checkpoint size
  prometheus::Gauge& checkpoint_timestamp;           // Unix seconds it was published
  prometheus::Gauge& checkpoint_age;                 // seconds since then (refreshed each second)
  prometheus::Histogram& checkpoint_sign_seconds;    // consistency check + persist + sign + store
  prometheus::Histogram& add_to_checkpoint_seconds;  // AddEvents with wait: accept -> covered
  // Witnessed publication (--witness-policy).
  prometheus::Histogram& checkpoint_witness_seconds;         // signed -> quorum met (or given up)
  prometheus::Gauge& checkpoint_publication_stalled;         // 1 while the quorum is not met
  prometheus::Counter& checkpoint_published_without_quorum;  // --witness-fail-open publications

  prometheus::Gauge& tile_cache_bytes;           // bytes charged by the tile cache's entries
  prometheus::Gauge& tile_cache_capacity_bytes;  // its budget (--tile-cache-mb)

  // Tiles HTTP limits (docs/operations.md, "Tiles HTTP port").
  prometheus::Gauge& http_open_connections;  // connections held
  // infratrail_http_connections_refused_total{limit}: closed at accept.
  prometheus::Counter& http_connections_refused_total_cap;    // limit="total"
  prometheus::Counter& http_connections_refused_per_address;  // limit="per_address"
  // infratrail_http_connections_cut_total{deadline}: shut down by a deadline.
  prometheus::Counter& http_connections_cut_head;  // deadline="head"
  prometheus::Counter& http_connections_cut_send;  // deadline="send"
  prometheus::Gauge& http_in_flight_bytes;         // distinct bodies held by unsent responses
  prometheus::Counter& http_requests_shed;         // 503 + Retry-After: in-flight bound reached
  prometheus::Counter& http_requests_too_large;    // 413: a request with a body (the API has none)
  // gRPC port limits (docs/operations.md, "Limits and hostile clients").
  prometheus::Counter& grpc_writes_refused_before_read;  // AddEvents refused on metadata
  prometheus::Counter& grpc_connections_refused;         // closed at accept: descriptor cap
  prometheus::Gauge& grpc_entries_streams;               // GetEntries streams open
  prometheus::Counter& grpc_entries_streams_stalled;     // cut off: client stopped reading

  // The metrics of the witness the policy calls `name`.
  WitnessMetrics ForWitness(const std::string& name);

  // The HTTP transport's share of the above, for HttpServer::Start.
  HttpServerMetrics ForHttpServer();

  // infratrail_http_requests_total{route, code}. Lock-free: the counters of
  // every route and status the server answers with are made up front.
  void CountHttp(HttpRoute route, int status);

  // infratrail_tile_cache_{hits,misses}_total{user}. Lock-free.
  void CountTileCache(TileCacheUser user, bool hit);

  // infratrail_grpc_requests_total{method, code}. `method` must have static
  // storage (a string literal): it is kept as a key.
  void CountRpc(absl::string_view method, absl::StatusCode code);

 private:
  static constexpr int kHttpStatuses[] = {200, 304, 400, 404, 405, 500, 503, 0};  // 0: other
  static constexpr size_t kHttpRoutes = 4;
  std::array<std::array<prometheus::Counter*, std::size(kHttpStatuses)>, kHttpRoutes> http_{};
  // [user][hit]
  std::array<std::array<prometheus::Counter*, 2>, 2> tile_cache_{};

  prometheus::Family<prometheus::Counter>& rpcs_;
  prometheus::Family<prometheus::Counter>& witness_requests_;
  prometheus::Family<prometheus::Histogram>& witness_seconds_;
  prometheus::Family<prometheus::Gauge>& witness_size_;
  // Family::Add builds a label map on every call; the counters are looked up
  // here instead (bounded: methods x status codes).
  absl::Mutex rpc_mu_;
  absl::flat_hash_map<std::pair<absl::string_view, int>, prometheus::Counter*> rpc_counters_
      ABSL_GUARDED_BY(rpc_mu_);
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_METRICS_H_
