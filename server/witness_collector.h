// WitnessCollector: the log's side of C2SP tlog-witness. Given a checkpoint
// the log has just signed, it asks every witness of the --witness-policy
// (C2SP tlog-policy) to cosign it, in parallel, and returns the
// cosignatures as soon as they meet the policy's quorum.
//
// Each witness has its own worker thread and HTTP connection, and always
// works on the newest checkpoint handed in: a slow or dead witness never
// delays the others, and never builds a backlog. A request to a witness:
//
//   POST <url>/add-checkpoint
//   old <size the witness last cosigned>
//   <consistency proof from that size, one base64 hash per line>
//   <blank line>
//   <the signed checkpoint note>
//
// The size each witness last cosigned is learned from its answers (200: the
// size sent; 409 text/x.tlog.size: the witness's own, then the request is
// sent again from there) and kept in the store (meta "witness_sizes", keyed
// by the witness's verifier key) by the publisher, so a restart starts from
// what the witness holds. A witness without state starts at `old 0`.
//
// Per request a timeout (default 2 s); transient failures (transport
// errors, 429, 5xx) are retried a bounded number of times per checkpoint
// with a short backoff. Refusals (403, 404, 422: the witness holds a tree
// this checkpoint does not extend) are not retried and are said loudly on
// stderr: a 422 means a witness has cosigned a different history.
//
// A 200 answer counts only if it carries a cosignature line that verifies
// under the witness's key from the policy over this very checkpoint.
//
// Thread-safe: Collect from one thread at a time (the publisher's).
#ifndef INFRATRAIL_SERVER_WITNESS_COLLECTOR_H_
#define INFRATRAIL_SERVER_WITNESS_COLLECTOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/checkpoint.h"
#include "core/hash.h"
#include "core/note.h"
#include "core/tlog_policy.h"

namespace infratrail {

class Metrics;

struct WitnessCollectorOptions {
  // Bound on one add-checkpoint request (connect, send, answer).
  absl::Duration timeout = absl::Seconds(2);
  // Requests per witness per checkpoint for transient failures (a 409 size
  // correction does not count; at most 2 of those).
  int attempts = 3;
  absl::Duration retry_backoff = absl::Milliseconds(100);  // doubled per retry
  // PEM CA bundle for https witnesses; empty: the system's CAs.
  std::string ca_file;
  // Largest answer read from a witness.
  size_t max_response_bytes = 64 << 10;
};

// Proves the tree of size `old_size` is a prefix of the one of `new_size`.
using WitnessProver =
    std::function<absl::StatusOr<std::vector<Hash>>(uint64_t old_size, uint64_t new_size)>;

class WitnessCollector {
 public:
  // One worker per witness of `policy`; InvalidArgument if a witness has no
  // URL (the server needs one to ask it). `known_sizes` is what the store
  // holds (ParseWitnessSizes of meta "witness_sizes"; may be empty).
  static absl::StatusOr<std::unique_ptr<WitnessCollector>> Start(
      std::shared_ptr<const TlogPolicy> policy, const std::string& known_sizes,
      WitnessProver prover, const WitnessCollectorOptions& options, Metrics* metrics);
  ~WitnessCollector();  // Stop()
  WitnessCollector(const WitnessCollector&) = delete;
  WitnessCollector& operator=(const WitnessCollector&) = delete;

  struct Result {
    // Cosignature lines gathered (verified), at least the quorum's when ok.
    std::vector<NoteSignature> cosignatures;
    bool quorum_met = false;
    // Why the quorum was not met: each witness's last outcome.
    std::string detail;
  };

  // Asks every witness to cosign `note` (the log-signed checkpoint of `size`)
  // and returns once the quorum is met, or once every witness has given up
  // on it (each bounded by attempts x timeout plus backoff), or at Stop.
  // Never an error: a result without the quorum says why.
  Result Collect(const std::string& note, uint64_t size);

  // The witness sizes to persist if they changed since the last call (the
  // encoded "witness_sizes" value), else nullopt.
  std::optional<std::string> SizesToPersist();

  // Aborts requests in flight (they end as Cancelled), wakes Collect, joins
  // the workers. Idempotent.
  void Stop();

  size_t witness_count() const;

 private:
  struct Worker;
  struct Job;
  WitnessCollector(std::shared_ptr<const TlogPolicy> policy, WitnessProver prover,
                   const WitnessCollectorOptions& options, Metrics* metrics);
  void RunWorker(Worker* w);
  // One checkpoint, all attempts: the cosignature line or why not.
  absl::StatusOr<NoteSignature> Submit(Worker* w, const Job& job);
  bool QuorumMetLocked(uint64_t round) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<const TlogPolicy> policy_;
  const WitnessProver prover_;
  const WitnessCollectorOptions options_;
  Metrics* const metrics_;

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Worker>> workers_;         // fixed after Start
  std::shared_ptr<const Job> job_ ABSL_GUARDED_BY(mu_);  // the newest checkpoint to cosign
  uint64_t round_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool sizes_dirty_ ABSL_GUARDED_BY(mu_) = false;
};

// "witness_sizes" meta value: one "<size> <witness verifier key>" line per
// witness. Unknown or malformed lines are ignored (a size is only a hint:
// a wrong one costs one 409 round trip).
std::string EncodeWitnessSizes(const std::vector<std::pair<std::string, uint64_t>>& sizes);
std::vector<std::pair<std::string, uint64_t>> ParseWitnessSizes(absl::string_view value);

inline constexpr absl::string_view kMetaWitnessSizes = "witness_sizes";

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_WITNESS_COLLECTOR_H_
