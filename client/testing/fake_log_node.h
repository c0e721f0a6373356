// FakeLogNode: one server process of a highly available log, for the
// client's failover tests. Test-only.
//
// Several nodes serve one FakeLogService, as several infratrail-server
// processes share one database. A leader node passes every call through.
// A standby serves reads and refuses AddEvents with UNAVAILABLE, naming the
// leader in its message and, when it knows one, in the `infratrail-leader`
// trailer (as the real server does). A node may also lag: its latest
// checkpoint is of an older size, and it refuses consistency proofs to a
// larger size with OUT_OF_RANGE, as a server that has not caught up.
//
// Thread-safe: every method may be called from any thread while RPCs run.
#ifndef INFRATRAIL_CLIENT_TESTING_FAKE_LOG_NODE_H_
#define INFRATRAIL_CLIENT_TESTING_FAKE_LOG_NODE_H_

#include <grpcpp/grpcpp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "client/testing/fake_log_server.h"
#include "infratrail/v1/log.grpc.pb.h"

namespace infratrail::testutil {

class FakeLogNode final : public v1::Log::Service {
 public:
  // `log` must outlive the node. A node starts as the leader.
  explicit FakeLogNode(FakeLogService* log) : log_(log) {}

  void BecomeLeader();
  // Refuses AddEvents from now on; `leader` ("HOST:PORT") goes in the
  // trailer, or no trailer with nullopt (no leader known: an election).
  void BecomeStandby(std::optional<std::string> leader);
  // GetCheckpoint serves size `size` and GetConsistencyProof refuses sizes
  // beyond it (nullopt: no lag). `size` must be at most the log's.
  void Lag(std::optional<uint64_t> size);

  // Calls this node received, including refused ones.
  int Calls(Rpc rpc) const;
  int RefusedAdds() const;

  grpc::Status AddEvents(grpc::ServerContext* ctx, const v1::AddEventsRequest* req,
                         v1::AddEventsResponse* resp) override;
  grpc::Status GetCheckpoint(grpc::ServerContext* ctx, const v1::GetCheckpointRequest* req,
                             v1::GetCheckpointResponse* resp) override;
  grpc::Status GetInclusionProof(grpc::ServerContext* ctx, const v1::GetInclusionProofRequest* req,
                                 v1::GetInclusionProofResponse* resp) override;
  grpc::Status GetConsistencyProof(grpc::ServerContext* ctx,
                                   const v1::GetConsistencyProofRequest* req,
                                   v1::GetConsistencyProofResponse* resp) override;
  grpc::Status GetEntries(grpc::ServerContext* ctx, const v1::GetEntriesRequest* req,
                          grpc::ServerWriter<v1::GetEntriesResponse>* writer) override;
  grpc::Status GetEntryAndProof(grpc::ServerContext* ctx, const v1::GetEntryAndProofRequest* req,
                                v1::GetEntryAndProofResponse* resp) override;

 private:
  // Counts the call; returns the lag.
  std::optional<uint64_t> Count(Rpc rpc);

  FakeLogService* const log_;
  mutable absl::Mutex mu_;
  bool standby_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<std::string> leader_ ABSL_GUARDED_BY(mu_);
  std::optional<uint64_t> lag_ ABSL_GUARDED_BY(mu_);
  std::array<int, kRpcCount> calls_ ABSL_GUARDED_BY(mu_){};
  int refused_adds_ ABSL_GUARDED_BY(mu_) = 0;
};

// A FakeLogNode of `log` served on 127.0.0.1 (an ephemeral port) from
// construction to destruction.
class FakeLogNodeServer {
 public:
  explicit FakeLogNodeServer(FakeLogService* log);
  ~FakeLogNodeServer();
  FakeLogNodeServer(const FakeLogNodeServer&) = delete;
  FakeLogNodeServer& operator=(const FakeLogNodeServer&) = delete;

  FakeLogNode& node() { return node_; }
  const std::string& target() const { return target_; }

 private:
  FakeLogNode node_;
  std::string target_;  // before server_, which sets it
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace infratrail::testutil

#endif  // INFRATRAIL_CLIENT_TESTING_FAKE_LOG_NODE_H_
