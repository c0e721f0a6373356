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
// GetEntries against hostile readers: a stream holds at most about
// 2 x kEntriesMessageBytes (proto/limits.h: the message being sent and gRPC's
// serialized copy): entries are read from storage only as the client takes the
// previous message. At most `max_entries_streams` streams are open at once
// (beyond: RESOURCE_EXHAUSTED), and a stream whose message has waited
// `stalled_timeout_s` for the client to read it is cancelled. The budget is
// documented in docs/operations.md ("Limits and hostile clients").
//
// Edge behaviour of each RPC is specified in proto/infratrail/v1/log.proto.
// Thread-safe; a background thread cancels stalled streams.
#ifndef INFRATRAIL_SERVER_LOG_SERVICE_H_
#define INFRATRAIL_SERVER_LOG_SERVICE_H_

#include <grpcpp/support/server_interceptor.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "infratrail/v1/log.grpc.pb.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/writer_auth.h"

namespace infratrail {

class EntriesReactor;

// The one place absl::Status becomes grpc::Status (codes coincide).
grpc::Status ToGrpcStatus(const absl::Status& status);

// The absl::Status payload (type URL) under which a WriteGate names the
// leader; LogService sends it as the kLeaderTrailer trailer (proto/limits.h).
inline constexpr absl::string_view kLeaderPayload = "infratrail/leader";

struct LogServiceLimits {
  int max_entries_streams = 64;  // GetEntries streams open at once
  int stalled_timeout_s = 30;    // a GetEntries write not taken by the client
};

// Answers a request gRPC could not parse with INVALID_ARGUMENT naming the
// method. (gRPC 1.51's callback API answers it UNIMPLEMENTED with no
// message: its handler drops the deserialisation status.) For
// ServerBuilder::experimental().SetInterceptorCreators.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
UnparsableRequestInterceptorFactory();

class LogService final : public v1::Log::CallbackService {
 public:
  // The log each call is answered from, taken once per call: a server of a
  // shared database replaces its Log when it becomes leader or standby, and
  // a call keeps the one it started with.
  using LogSource = std::function<std::shared_ptr<Log>()>;
  // OK if this server takes writes now; otherwise the refusal for
  // AddEvents (a standby's Unavailable, kLeaderPayload naming the leader).
  using WriteGate = std::function<absl::Status()>;

  // `on_unhealthy` is called (from any thread) when a write fails because
  // the log stopped serving, so the health service can flip to NOT_SERVING.
  LogService(LogSource logs, WriteGate gate, WriterAuth* auth, Metrics* metrics,
             std::function<void()> on_unhealthy, const LogServiceLimits& limits = {});
  // One log for good, every write admitted.
  LogService(Log* log, WriterAuth* auth, Metrics* metrics, std::function<void()> on_unhealthy,
             const LogServiceLimits& limits = {});
  // Stops the stall checker. The server must be shut down first.
  ~LogService() override;
  LogService(const LogService&) = delete;
  LogService& operator=(const LogService&) = delete;

  // Cancels every GetEntries stream whose current message has waited for
  // the client since before `now - stalled_timeout_s`; how many. Called
  // every second by the service's own thread; public for tests.
  int CancelStalledStreams(absl::Time now);

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

  friend class EntriesReactor;
  // GetEntries stream bookkeeping: false if max_entries_streams are open.
  bool OpenStream(EntriesReactor* stream);
  void CloseStream(EntriesReactor* stream);

  const LogSource logs_;
  const WriteGate gate_;
  WriterAuth* const auth_;
  Metrics* const metrics_;
  const std::function<void()> on_unhealthy_;
  const LogServiceLimits limits_;

  // Open GetEntries streams. A reactor leaves this set (under the lock)
  // before it is deleted, so the stall checker may touch any member.
  absl::Mutex streams_mu_;
  absl::flat_hash_set<EntriesReactor*> streams_ ABSL_GUARDED_BY(streams_mu_);
  bool stopping_ ABSL_GUARDED_BY(streams_mu_) = false;
  std::thread stall_checker_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_LOG_SERVICE_H_
