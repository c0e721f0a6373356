// Client side of the end-to-end tests: a gRPC client of one server (the Log
// and health services, with an optional writer token), unique test events,
// and the verification steps every test repeats.
//
// LogClient is thread-safe (gRPC stubs are); the free functions too.
#ifndef INFRATRAIL_TESTS_SERVER_LOG_CLIENT_H_
#define INFRATRAIL_TESTS_SERVER_LOG_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/checkpoint.h"
#include "core/hash.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "infratrail/v1/event.pb.h"
#include "infratrail/v1/log.grpc.pb.h"

namespace infratrail::testing {

using HealthResponse = grpc::health::v1::HealthCheckResponse;
using HealthStatus = HealthResponse::ServingStatus;

// Receives what the server may send (kMaxResponseBytes) and, unlike the
// client library, sends any size, so tests can send what the server must
// refuse.
class LogClient {
 public:
  // A client of the server at `address` ("host:port"). With a non-empty
  // `token`, every call carries "authorization: Bearer <token>".
  explicit LogClient(const std::string& address, std::string token = "");
  // A client over `credentials` (e.g. grpc::SslCredentials), without a
  // token. A non-empty `tls_target_name` is the name the server's
  // certificate must carry, instead of the host in `address`. The channel
  // has its own subchannel pool, so it never shares a connection (and the
  // TLS identity on it) with another client.
  LogClient(const std::string& address,
            const std::shared_ptr<grpc::ChannelCredentials>& credentials,
            const std::string& tls_target_name = "");

  v1::Log::Stub& stub() { return *stub_; }
  // Sets a deadline `timeout` from now and the token metadata.
  void Prepare(grpc::ClientContext* ctx, absl::Duration timeout = absl::Seconds(30)) const;

  grpc::Status AddEvents(const std::vector<std::string>& entries, bool wait_for_checkpoint,
                         v1::AddEventsResponse* resp);
  // The latest checkpoint note.
  grpc::Status GetCheckpoint(std::string* note);
  // One GetEntries call: appends what the stream returned to `out`; also
  // checks that the chunk indices are consecutive from `start` (Internal
  // otherwise).
  grpc::Status GetEntries(uint64_t start, uint64_t count, std::vector<std::string>* out);
  // Entries [begin, end) by as many GetEntries calls as needed. Internal if
  // the server returns nothing for a call.
  grpc::Status ReadRange(uint64_t begin, uint64_t end, std::vector<std::string>* out);
  // grpc.health.v1.Health/Check for `service`.
  grpc::Status CheckHealth(const std::string& service, HealthStatus* status);

 private:
  const std::string token_;
  std::unique_ptr<v1::Log::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

// A valid InfraEvent, different from every other one this process makes (a
// per-process random nonce and a counter in resource.id).
v1::InfraEvent MakeEventProto();
// MakeEventProto serialized, with `padding` bytes of justification.
std::string MakeEvent(size_t padding = 0);
// MakeEventProto serialized, with a justification that makes it exactly
// `bytes` long (at least 200).
std::string MakeEventOfSize(size_t bytes);
// `n` MakeEvent()s.
std::vector<std::string> MakeEvents(size_t n);

// Opens `note` with the log's verifier key (no witnesses required).
absl::StatusOr<Checkpoint> OpenLogCheckpoint(absl::string_view note, absl::string_view vkey);

// Proof hashes from the wire. InvalidArgument for a hash not of 32 bytes.
absl::StatusOr<std::vector<Hash>> ToHashes(
    const google::protobuf::RepeatedPtrField<std::string>& hashes);

// The RFC 9162 root of the tree whose leaves are `entries`, recomputed with
// a CompactRange.
Hash RootOfEntries(const std::vector<std::string>& entries);

// grpc::Status as absl::Status (same code and message).
absl::Status FromGrpc(const grpc::Status& status);

// Adds one new event with wait_for_checkpoint, so that the checkpoint it
// returns covers everything sequenced before the call; that checkpoint,
// opened under `vkey`.
absl::StatusOr<Checkpoint> AddAndWaitForCheckpoint(LogClient& client, absl::string_view vkey);

// OK iff `proof` shows `entry` at `index` in `cp`.
absl::Status VerifyEntryInclusion(const Checkpoint& cp, uint64_t index, absl::string_view entry,
                                  const google::protobuf::RepeatedPtrField<std::string>& proof);
// OK iff `proof` shows `older` is a prefix of `newer` (equal sizes: equal
// roots and an empty proof).
absl::Status VerifyCheckpointConsistency(
    const Checkpoint& older, const Checkpoint& newer,
    const google::protobuf::RepeatedPtrField<std::string>& proof);

}  // namespace infratrail::testing

#endif  // INFRATRAIL_TESTS_SERVER_LOG_CLIENT_H_
