// LogService: the infratrail.v1.Log gRPC service over a Log, on gRPC's
// callback API so that a caller waiting for its group commit holds no
// thread (256 concurrent writers on 2 cores).
//
// AddEvents: authenticate, rate-limit, validate every entry, hash leaves on
// the RPC thread, queue to the sequencer; the reactor finishes from the
// sequencer's callback once the batch is durable (and, with
// wait_for_checkpoint, from the publisher once a checkpoint covers it).
// Reads are answered inline from storage and the tile cache, always
// relative to the latest *published* checkpoint.
//
// Edge behaviour of each RPC is specified in proto/infratrail/v1/log.proto.
// Thread-safe.
#ifndef INFRATRAIL_SERVER_LOG_SERVICE_H_
#define INFRATRAIL_SERVER_LOG_SERVICE_H_

#include <functional>
#include <string>

#include "infratrail/v1/log.grpc.pb.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/writer_auth.h"

namespace infratrail {

// The one place absl::Status becomes grpc::Status (codes coincide).
grpc::Status ToGrpcStatus(const absl::Status& status);

class LogService final : public v1::Log::CallbackService {
 public:
  // `on_unhealthy` is called (from any thread) when a write fails because
  // the log stopped serving, so the health service can flip to NOT_SERVING.
  LogService(Log* log, WriterAuth* auth, Metrics* metrics, std::function<void()> on_unhealthy);

  grpc::ServerUnaryReactor* AddEvents(grpc::CallbackServerContext* ctx,
                                      const v1::AddEventsRequest* req,
                                      v1::AddEventsResponse* resp) override;
  grpc::ServerUnaryReactor* GetCheckpoint(grpc::CallbackServerContext* ctx,
                                          const v1::GetCheckpointRequest* req,
                                          v1::GetCheckpointResponse* resp) override;
  grpc::ServerUnaryReactor* GetInclusionProof(grpc::CallbackServerContext* ctx,
                                              const v1::GetInclusionProofRequest* req,
                                              v1::GetInclusionProofResponse* resp) override;
  grpc::ServerUnaryReactor* GetConsistencyProof(grpc::CallbackServerContext* ctx,
                                                const v1::GetConsistencyProofRequest* req,
                                                v1::GetConsistencyProofResponse* resp) override;
  grpc::ServerWriteReactor<v1::GetEntriesResponse>* GetEntries(
      grpc::CallbackServerContext* ctx, const v1::GetEntriesRequest* req) override;
  grpc::ServerUnaryReactor* GetEntryAndProof(grpc::CallbackServerContext* ctx,
                                             const v1::GetEntryAndProofRequest* req,
                                             v1::GetEntryAndProofResponse* resp) override;

 private:
  // Finishes a unary call and counts it.
  grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* ctx, absl::string_view method,
                                   const absl::Status& status);
  void FinishReactor(grpc::ServerUnaryReactor* reactor, absl::string_view method,
                     const absl::Status& status);
  absl::Status DoAddEvents(grpc::CallbackServerContext* ctx, const v1::AddEventsRequest* req,
                           v1::AddEventsResponse* resp, grpc::ServerUnaryReactor* reactor);

  Log* const log_;
  WriterAuth* const auth_;
  Metrics* const metrics_;
  const std::function<void()> on_unhealthy_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_LOG_SERVICE_H_
