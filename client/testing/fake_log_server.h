// FakeLogServer: an in-memory infratrail.v1.Log gRPC server on an ephemeral
// loopback port, for the client library's unit tests. Test-only.
//
// It follows log.proto's edge behaviour closely enough for a client (sizes,
// OUT_OF_RANGE / NOT_FOUND / INVALID_ARGUMENT, dedupe by leaf hash, chunked
// GetEntries), computes every proof with the naive RFC 9162 reference
// (core/testing/merkle_reference.h), and signs a checkpoint of any published
// size on demand. Unlike the real server, AddEvents with wait_for_checkpoint
// signs the full current size at once, even when the published size is
// capped.
//
// Its controls make it misbehave the ways a client must survive or detect:
// injected gRPC errors, replies lost after the append, wrong leaf hashes,
// corrupt proofs, a checkpoint signed by another key, a forked tree, a
// lagging checkpoint, AddEvents held until released, broken entry streams.
//
// Thread-safe: every method may be called from any thread while RPCs run.
// Also the test events and the receipt checks both client tests share.
#ifndef INFRATRAIL_CLIENT_TESTING_FAKE_LOG_SERVER_H_
#define INFRATRAIL_CLIENT_TESTING_FAKE_LOG_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/log_client.h"
#include "core/hash.h"
#include "core/note_key.h"
#include "core/testing/merkle_reference.h"
#include "core/tlog_proof.h"
#include "infratrail/v1/log.grpc.pb.h"

namespace infratrail::testutil {

// Long enough for any correct run; a lost wake-up fails instead of hanging.
inline constexpr absl::Duration kTestWait = absl::Seconds(60);

// A serialized InfraEvent the log accepts, distinct for each (i, tag).
std::string TestEvent(uint64_t i, absl::string_view tag = "event");
// TestEvent(first) .. TestEvent(first + n - 1).
std::vector<std::string> TestEvents(uint64_t first, uint64_t n, absl::string_view tag = "event");
// TestEvent(i) with a justification that makes it exactly `bytes` long
// (at least 32).
std::string TestEventOfSize(uint64_t i, size_t bytes);

class FakeLogService;

// A failed check: a VerificationError (DataLoss, IsVerificationError).
void ExpectVerificationError(const absl::Status& st);
// `receipt` for `entry` verifies offline with nothing but the log key (after
// a Format/Parse round trip), against the honest root of its size, which is
// `want_size` if given.
void ExpectReceiptVerifies(FakeLogService& log, const TlogProof& receipt, absl::string_view entry,
                           std::optional<uint64_t> want_size);

enum class Rpc {
  kAddEvents,
  kGetCheckpoint,
  kGetInclusionProof,
  kGetConsistencyProof,
  kGetEntries,
  kGetEntryAndProof,
};
inline constexpr size_t kRpcCount = 6;

class FakeLogService final : public v1::Log::Service {
 public:
  static constexpr absl::string_view kOrigin = "example.com/fake-log";

  FakeLogService();  // signs with a key derived from a fixed seed

  const NoteVerifier& log_key() const { return log_key_; }
  // A checkpoint note for (size, root) signed by the log's own key, whatever
  // it claims (for forging checkpoints a client must reject).
  std::string SignCheckpoint(uint64_t size, const Hash& root) const;

  // The log's contents, bypassing the RPCs (and every control).
  void Append(const std::vector<std::string>& entries);
  uint64_t size() const;
  std::vector<std::string> entries() const;
  // The honest tree's root at `size`, from the reference.
  Hash Root(uint64_t size);

  // --- Controls.
  // The next `n` calls of `rpc` fail with `code` before doing anything
  // (AddEvents: after a hold).
  void FailNext(Rpc rpc, int n, grpc::StatusCode code);
  // Every AddEvents whose request holds `data` fails with `code`, adding
  // nothing.
  void FailAddEventsContaining(std::string data, grpc::StatusCode code);
  // The next `n` AddEvents append their entries, then answer UNAVAILABLE.
  void LoseNextAddReplies(int n);
  // Flip a byte of every leaf hash / inclusion proof / consistency proof
  // served from now on (an empty proof gets a bogus hash instead).
  void CorruptLeafHashes(bool on);
  void CorruptInclusionProofs(bool on);
  void CorruptConsistencyProofs(bool on);
  // Sign checkpoints from now on with `signer` (same origin, another key).
  void SignWith(const NoteSigner& signer);
  // From now on serve (checkpoints, proofs, entries) a tree whose entry at
  // `index` was replaced: a fork of the log at every size above `index`.
  void Fork(uint64_t index);
  // The latest checkpoint (GetCheckpoint, and size 0 in requests) and
  // GetEntries stop at `cap` (nullopt: everything appended), as from a
  // frontend whose checkpoint lags. Proofs for explicit sizes up to
  // everything appended are still served.
  void CapPublishedSize(std::optional<uint64_t> cap);
  // AddEvents calls block (after being counted) until released.
  void HoldAddEvents();
  void ReleaseAddEvents();
  // GetEntries sends chunks of at most `n` entries (default 256).
  void SetEntriesChunkSize(size_t n);
  // The next `streams` GetEntries calls send `chunks` chunks, then fail
  // with UNAVAILABLE.
  void BreakEntriesStreams(int streams, size_t chunks);
  // Releases held calls for good; the server's destructor calls it.
  void Shutdown();

  // --- Observations.
  int Calls(Rpc rpc) const;
  // Waits until `rpc` was called at least `n` times; false on timeout.
  bool AwaitCalls(Rpc rpc, int n, absl::Duration timeout = kTestWait) const;
  // Waits until `n` AddEvents are held at once; false on timeout.
  bool AwaitHeldAdds(int n, absl::Duration timeout = kTestWait) const;
  int MaxConcurrentAdds() const;
  std::vector<size_t> BatchSizes() const;  // entries per AddEvents received
  // (start, count) of each GetEntries request received.
  std::vector<std::pair<uint64_t, uint64_t>> EntriesRequests() const;

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
  struct Tree {
    std::vector<std::string> data;
    MerkleReference ref;
  };
  struct Failure {
    int remaining = 0;
    grpc::StatusCode code = grpc::StatusCode::OK;
  };

  // Counts the call and applies FailNext.
  grpc::Status BeginLocked(Rpc rpc) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies FailNext to a call already counted.
  grpc::Status InjectedLocked(Rpc rpc) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AppendLocked(const std::string& data) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Tree& ServedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t PublishedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string SignLocked(uint64_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // 0: the published size. OUT_OF_RANGE beyond everything appended.
  grpc::Status ResolveSizeLocked(uint64_t requested, absl::string_view what, uint64_t* size)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void InclusionLocked(uint64_t index, uint64_t size,
                       google::protobuf::RepeatedPtrField<std::string>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Set by the constructor, then immutable.
  std::vector<NoteSigner> own_signer_;
  NoteVerifier log_key_;
  mutable absl::Mutex mu_;
  std::vector<NoteSigner> signer_ ABSL_GUARDED_BY(mu_);  // exactly one
  Tree honest_ ABSL_GUARDED_BY(mu_);
  std::optional<Tree> forked_ ABSL_GUARDED_BY(mu_);
  std::map<Hash, uint64_t> index_of_ ABSL_GUARDED_BY(mu_);

  std::array<Failure, kRpcCount> fail_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, grpc::StatusCode> fail_containing_ ABSL_GUARDED_BY(mu_);
  int lose_replies_ ABSL_GUARDED_BY(mu_) = 0;
  bool corrupt_leaf_ ABSL_GUARDED_BY(mu_) = false;
  bool corrupt_inclusion_ ABSL_GUARDED_BY(mu_) = false;
  bool corrupt_consistency_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<uint64_t> cap_ ABSL_GUARDED_BY(mu_);
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  size_t chunk_size_ ABSL_GUARDED_BY(mu_) = 256;
  int break_streams_ ABSL_GUARDED_BY(mu_) = 0;
  size_t break_after_chunks_ ABSL_GUARDED_BY(mu_) = 0;

  std::array<int, kRpcCount> calls_ ABSL_GUARDED_BY(mu_){};
  int held_adds_ ABSL_GUARDED_BY(mu_) = 0;
  int concurrent_adds_ ABSL_GUARDED_BY(mu_) = 0;
  int max_concurrent_adds_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<size_t> batch_sizes_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<uint64_t, uint64_t>> entries_requests_ ABSL_GUARDED_BY(mu_);
};

// Builds and starts a server of `service` on 127.0.0.1 (an ephemeral port)
// with the real server's message limits; sets `target` to its address.
std::unique_ptr<grpc::Server> StartLoopbackServer(grpc::Service* service, std::string* target);

// A FakeLogService served on 127.0.0.1 (an ephemeral port) from
// construction to destruction.
class FakeLogServer {
 public:
  FakeLogServer();
  ~FakeLogServer();
  FakeLogServer(const FakeLogServer&) = delete;
  FakeLogServer& operator=(const FakeLogServer&) = delete;

  FakeLogService& log() { return service_; }
  const std::string& target() const { return target_; }

  // Options for a client of this server: plaintext, the log key, and quick
  // retries (1 ms initial, 5 ms max backoff, a 20 s budget).
  LogClientOptions ClientOptions() const;

 private:
  FakeLogService service_;
  std::string target_;  // before server_, which sets it
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace infratrail::testutil

#endif  // INFRATRAIL_CLIENT_TESTING_FAKE_LOG_SERVER_H_
