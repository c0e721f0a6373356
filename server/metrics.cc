#include "server/metrics.h"

namespace infratrail {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;

prometheus::Counter& Counter(prometheus::Registry& r, const std::string& name,
                             const std::string& help) {
  return BuildCounter().Name(name).Help(help).Register(r).Add({});
}
prometheus::Gauge& Gauge(prometheus::Registry& r, const std::string& name,
                         const std::string& help) {
  return BuildGauge().Name(name).Help(help).Register(r).Add({});
}
prometheus::Histogram& Hist(prometheus::Registry& r, const std::string& name,
                            const std::string& help, const Histogram::BucketBoundaries& b) {
  return BuildHistogram().Name(name).Help(help).Register(r).Add({}, b);
}

// One labelled child of a counter family (Register returns the family
// already registered under that name).
prometheus::Counter& Labelled(prometheus::Registry& r, const std::string& name,
                              const std::string& help, const std::string& label,
                              const std::string& value) {
  return BuildCounter().Name(name).Help(help).Register(r).Add({{label, value}});
}

Histogram::BucketBoundaries Seconds() {
  return {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5};
}

}  // namespace

Metrics::Metrics(prometheus::Registry& r)
    : entries_appended(Counter(r, "infratrail_sequencer_entries_appended_total",
                               "New entries committed to the log")),
      entries_duplicate(Counter(r, "infratrail_sequencer_entries_duplicate_total",
                                "Submitted entries already in the log (original index returned)")),
      batch_entries(Hist(r, "infratrail_sequencer_batch_entries", "Entries per sequencer batch",
                         {1, 4, 16, 64, 256, 1024, 4096, 16384})),
      batch_seconds(Hist(r, "infratrail_sequencer_batch_seconds",
                         "Sequencing latency: batch dequeued to durable", Seconds())),
      commit_seconds(Hist(r, "infratrail_storage_commit_seconds",
                          "Storage commit latency (write batch and fsync)", Seconds())),
      queue_entries(
          Gauge(r, "infratrail_sequencer_queue_entries", "Entries waiting for the sequencer")),
      tree_size(Gauge(r, "infratrail_sequencer_tree_size_entries", "Committed tree size")),
      sequencer_healthy(Gauge(r, "infratrail_sequencer_healthy",
                              "1 while accepting writes, 0 after a storage failure")),
      leader(Gauge(r, "infratrail_leader",
                   "1 while this server is its log's leader (sequences and signs), 0 on a "
                   "standby")),
      leader_elections(Counter(r, "infratrail_leader_elections_total",
                               "Times this server became its log's leader")),
      leader_stepdowns(Counter(r, "infratrail_leader_stepdowns_total",
                               "Times this server stopped being leader (lease lost or taken "
                               "over, a storage failure)")),
      storage_connection_errors(Counter(r, "infratrail_storage_connection_errors_total",
                                        "Database connections lost or refused (--storage "
                                        "postgres://...)")),
      rejected_queue_full(Counter(r, "infratrail_sequencer_rejected_queue_full_total",
                                  "AddEvents rejected because the queue was full")),
      rejected_disk_reserve(Counter(r, "infratrail_sequencer_rejected_disk_reserve_total",
                                    "Writes refused because a disk was below its free-space "
                                    "reserve (--min-free-disk-mb)")),
      checkpoint_publish_failures(Counter(r, "infratrail_checkpoint_publish_failures_total",
                                          "Failed attempts to sign, persist and store a "
                                          "checkpoint (each is retried)")),
      checkpoint_publish_failing(Gauge(r, "infratrail_checkpoint_publish_failing",
                                       "1 while checkpoint publishing is failing, else 0")),
      checkpoint_size(Gauge(r, "infratrail_checkpoint_size_entries",
                            "Tree size of the latest published checkpoint")),
      checkpoint_timestamp(Gauge(r, "infratrail_checkpoint_published_timestamp_seconds",
                                 "When the latest checkpoint was published (Unix seconds); "
                                 "checkpoint age is time() minus this")),
      checkpoint_age(Gauge(r, "infratrail_checkpoint_age_seconds",
                           "Seconds since the latest checkpoint was published")),
      checkpoint_sign_seconds(Hist(r, "infratrail_checkpoint_sign_seconds",
                                   "Checkpoint signing: consistency check, persist, sign, store",
                                   Seconds())),
      add_to_checkpoint_seconds(Hist(r, "infratrail_checkpoint_add_to_published_seconds",
                                     "AddEvents with wait: accepted to covered by a checkpoint",
                                     Seconds())),
      checkpoint_witness_seconds(Hist(r, "infratrail_checkpoint_witness_seconds",
                                      "Signed checkpoint to witness quorum met (or given up)",
                                      Seconds())),
      checkpoint_publication_stalled(
          Gauge(r, "infratrail_checkpoint_publication_stalled",
                "1 while checkpoint publication waits for the witness quorum, else 0")),
      checkpoint_published_without_quorum(
          Counter(r, "infratrail_checkpoint_published_without_quorum_total",
                  "Checkpoints published without the witness quorum (--witness-fail-open)")),
      tile_cache_bytes(Gauge(r, "infratrail_tile_cache_bytes",
                             "Bytes charged by the entries of the tile cache (proofs and HTTP)")),
      tile_cache_capacity_bytes(Gauge(r, "infratrail_tile_cache_capacity_bytes",
                                      "The tile cache's byte budget (--tile-cache-mb)")),
      http_open_connections(Gauge(r, "infratrail_http_open_connections",
                                  "Tiles HTTP connections held (admitted, not yet closed)")),
      http_connections_refused_total_cap(Labelled(
          r, "infratrail_http_connections_refused_total",
          "Tiles HTTP connections closed at accept by a connection limit", "limit", "total")),
      http_connections_refused_per_address(Labelled(
          r, "infratrail_http_connections_refused_total",
          "Tiles HTTP connections closed at accept by a connection limit", "limit", "per_address")),
      http_connections_cut_head(Labelled(r, "infratrail_http_connections_cut_total",
                                         "Tiles HTTP connections shut down by a deadline",
                                         "deadline", "head")),
      http_connections_cut_send(Labelled(r, "infratrail_http_connections_cut_total",
                                         "Tiles HTTP connections shut down by a deadline",
                                         "deadline", "send")),
      http_in_flight_bytes(Gauge(r, "infratrail_http_in_flight_bytes",
                                 "Bytes of distinct response bodies held by responses not yet "
                                 "sent in full")),
      http_requests_shed(Counter(r, "infratrail_http_requests_shed_total",
                                 "Tiles HTTP requests answered 503 because the response bytes "
                                 "in flight were at their bound")),
      http_requests_too_large(Counter(r, "infratrail_http_requests_too_large_total",
                                      "Tiles HTTP requests answered 413: a request body (the "
                                      "read API takes none)")),
      grpc_writes_refused_before_read(
          Counter(r, "infratrail_grpc_writes_refused_before_read_total",
                  "AddEvents calls refused from their metadata, before the message was read")),
      grpc_connections_refused(
          Counter(r, "infratrail_grpc_connections_refused_total",
                  "gRPC connections closed at accept: the descriptor cap was reached")),
      grpc_entries_streams(
          Gauge(r, "infratrail_grpc_get_entries_streams", "GetEntries streams open")),
      grpc_entries_streams_stalled(
          Counter(r, "infratrail_grpc_get_entries_stalled_total",
                  "GetEntries streams cancelled because the client stopped reading")),
      rpcs_(BuildCounter()
                .Name("infratrail_grpc_requests_total")
                .Help("gRPC requests by method and status code")
                .Register(r)),
      witness_requests_(BuildCounter()
                            .Name("infratrail_cosigning_requests_total")
                            .Help("add-checkpoint requests to each witness of the policy, by "
                                  "outcome (cosigned, conflict, inconsistent, refused, "
                                  "bad_answer, failed)")
                            .Register(r)),
      witness_seconds_(BuildHistogram()
                           .Name("infratrail_cosigning_request_seconds")
                           .Help("add-checkpoint request latency, per witness")
                           .Register(r)),
      witness_size_(BuildGauge()
                        .Name("infratrail_cosigning_witness_size_entries")
                        .Help("Tree size each witness last cosigned, as far as the log knows")
                        .Register(r)) {
  auto& http = BuildCounter()
                   .Name("infratrail_http_requests_total")
                   .Help("Tiles HTTP requests by route and status code")
                   .Register(r);
  constexpr const char* kRouteNames[kHttpRoutes] = {"checkpoint", "tile", "entries", "other"};
  for (size_t route = 0; route < kHttpRoutes; ++route) {
    for (size_t s = 0; s < std::size(kHttpStatuses); ++s) {
      const std::string code = kHttpStatuses[s] == 0 ? "other" : std::to_string(kHttpStatuses[s]);
      http_[route][s] = &http.Add({{"route", kRouteNames[route]}, {"code", code}});
    }
  }
  auto& hits = BuildCounter()
                   .Name("infratrail_tile_cache_hits_total")
                   .Help(
                       "Tile cache lookups answered from memory, by user (proofs: expanded "
                       "hash tiles; http: response bodies)")
                   .Register(r);
  auto& misses = BuildCounter()
                     .Name("infratrail_tile_cache_misses_total")
                     .Help("Tile cache lookups that went to storage, by user")
                     .Register(r);
  constexpr const char* kUserNames[] = {"proofs", "http"};
  for (size_t user = 0; user < std::size(kUserNames); ++user) {
    tile_cache_[user][0] = &misses.Add({{"user", kUserNames[user]}});
    tile_cache_[user][1] = &hits.Add({{"user", kUserNames[user]}});
  }
}

void Metrics::CountTileCache(TileCacheUser user, bool hit) {
  tile_cache_[static_cast<size_t>(user)][hit ? 1 : 0]->Increment();
}

WitnessMetrics Metrics::ForWitness(const std::string& name) {
  return WitnessMetrics{.requests_family = &witness_requests_,
                        .witness = name,
                        .seconds = &witness_seconds_.Add({{"witness", name}}, Seconds()),
                        .size = &witness_size_.Add({{"witness", name}})};
}

HttpServerMetrics Metrics::ForHttpServer() {
  return HttpServerMetrics{.open_connections = &http_open_connections,
                           .refused_total_cap = &http_connections_refused_total_cap,
                           .refused_per_address = &http_connections_refused_per_address,
                           .cut_head = &http_connections_cut_head,
                           .cut_send = &http_connections_cut_send,
                           .body_too_large = &http_requests_too_large};
}

void Metrics::CountHttp(HttpRoute route, int status) {
  size_t s = 0;
  while (kHttpStatuses[s] != status && kHttpStatuses[s] != 0) ++s;
  http_[static_cast<size_t>(route)][s]->Increment();
}

void Metrics::CountRpc(absl::string_view method, absl::StatusCode code) {
  absl::MutexLock l(&rpc_mu_);
  prometheus::Counter*& c = rpc_counters_[{method, static_cast<int>(code)}];
  if (c == nullptr) {
    c = &rpcs_.Add({{"method", std::string(method)}, {"code", absl::StatusCodeToString(code)}});
  }
  c->Increment();
}

}  // namespace infratrail
