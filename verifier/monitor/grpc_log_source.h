// A log read over its gRPC API (infratrail.v1.Log) rather than its tiles:
// grpc://HOST:PORT or grpcs://HOST:PORT. The API serves entries and proofs,
// not hash tiles, so this source serves entry bundles only (rebuilt from
// GetEntries, the bytes exactly as streamed) and proves consistency with
// GetConsistencyProof; the auditor then checks the tree from the entries
// and the signed roots alone. Errors are operational, as for every source:
//   Unavailable        UNAVAILABLE, RESOURCE_EXHAUSTED (rate limited),
//                      ABORTED, CANCELLED, UNKNOWN
//   DeadlineExceeded   the per-call deadline
//   NotFound           OUT_OF_RANGE, NOT_FOUND (beyond what is published)
//   FailedPrecondition any other status (the server refused the request)
//   DataLoss           a response that breaks the API's contract (an entry
//                      out of order, a proof hash that is not 32 bytes)
// each naming the target, the RPC and its arguments.
#ifndef INFRATRAIL_VERIFIER_MONITOR_GRPC_LOG_SOURCE_H_
#define INFRATRAIL_VERIFIER_MONITOR_GRPC_LOG_SOURCE_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/hash.h"
#include "verifier/monitor/log_source.h"

namespace infratrail {

struct GrpcLogSourceOptions {
  // Per-call deadline; a GetEntries stream of up to 10,000 entries is one call.
  std::chrono::milliseconds timeout{30000};
  // grpcs://: CA bundle (PEM); empty for gRPC's default roots.
  std::string ca_file;
};

class GrpcLogSource final : public LogSource {
 public:
  // `url` is grpc://HOST:PORT (plaintext) or grpcs://HOST:PORT (TLS).
  // InvalidArgument for anything else, or an unreadable CA file.
  static absl::StatusOr<std::unique_ptr<GrpcLogSource>> Create(absl::string_view url,
                                                               const GrpcLogSourceOptions& options);
  ~GrpcLogSource() override;

  absl::StatusOr<std::string> Checkpoint(bool bypass_caches) override;
  // Entry bundles only; a hash tile is Unimplemented (the auditor never asks
  // for one: ServesHashTiles() is false).
  std::vector<absl::StatusOr<std::string>> Tiles(absl::Span<const TileId> tiles) override;
  bool ServesHashTiles() const override { return false; }
  absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t from, uint64_t to) override;
  std::string Describe() const override { return url_; }

 private:
  struct Stub;
  GrpcLogSource(std::string url, std::chrono::milliseconds timeout, std::unique_ptr<Stub> stub);

  // The consecutive bundles of `run` (the first holding entry `start`),
  // read with GetEntries and appended to *out, encoded, one per bundle;
  // nothing is appended on error.
  absl::Status FetchRun(uint64_t start, absl::Span<const TileId> run,
                        std::vector<absl::StatusOr<std::string>>* out);

  std::string url_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Stub> stub_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_GRPC_LOG_SOURCE_H_
