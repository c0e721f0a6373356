// Witness: the C2SP tlog-witness v1.0.0 add-checkpoint logic, independent of
// HTTP (witness_http.h carries it). docs/witness.md says what it promises.
//
// AddCheckpoint checks a request in this order, answering with the first
// failure:
//   400  the body is malformed (old size line, proof lines, blank line, a
//        note whose text is a checkpoint), more than 63 proof lines, or old
//        size > checkpoint size;
//   404  the checkpoint's origin is not a known log;
//   403  no signature by the log's key, or one by its key that does not
//        verify;
//   422  a size-0 checkpoint whose root is not the empty tree's, or a proof
//        with `old 0`;
//   409  old size != the size last cosigned for the log (0 if never), with
//        Content-Type text/x.tlog.size and body "<size>\n";
//   422  the same size with another root, or a consistency proof from the
//        cosigned tree that does not verify;
//   429  a new checkpoint beyond the log's rate (only checkpoints that move
//        the log forward count: nobody but the log can make one, so replays
//        of its public checkpoints cannot use up its budget);
//   200  one cosignature/v1 line, sent only after the new state is durable;
//   503  the state store has failed (every later request too).
//
// Compare-and-swap: each log's latest cosigned (size, root) is checked and
// advanced under that log's lock, then the record is queued to the store in
// that order; a request that saw old == N and a concurrent one that moved
// the log past N cannot both win. A reply waits for its own record, which
// the journal holds after every record queued before it.
//
// Thread-safe; `done` runs on the calling thread for refusals and on the
// store's committer thread for cosignatures (it must be quick).
#ifndef INFRATRAIL_VERIFIER_WITNESS_WITNESS_H_
#define INFRATRAIL_VERIFIER_WITNESS_WITNESS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/hash.h"
#include "core/note_key.h"
#include "verifier/witness/log_list.h"
#include "verifier/witness/witness_store.h"

namespace infratrail {

class WitnessMetrics;

// The most proof lines a request may carry (tlog-witness).
inline constexpr size_t kMaxWitnessProofLines = 63;
// The largest add-checkpoint body taken: the old size line, 63 proof lines
// and a checkpoint note with its signatures (room for ~30 post-quantum
// cosignatures; Ed25519 ones are ~120 bytes).
inline constexpr size_t kMaxAddCheckpointBodyBytes = 128 << 10;
inline constexpr absl::string_view kTlogSizeContentType = "text/x.tlog.size";

struct WitnessOptions {
  // New checkpoints per second each log may have cosigned (a token bucket);
  // `burst` at once. 0 disables the limit.
  double rate_per_log = 20;
  double burst_per_log = 40;
  // Unix time; tests pin it.
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

struct WitnessReply {
  int status = 200;
  std::string body;
  absl::string_view content_type = "text/plain; charset=utf-8";
  int retry_after_s = 0;
  std::string origin;  // the request's log, when known (for metrics)
};

class Witness {
 public:
  using Done = absl::AnyInvocable<void(WitnessReply) &&>;

  // `logs`, `store` and `metrics` (which may be null) must outlive the
  // witness. The store's recovered state is the starting point.
  Witness(NoteSigner key, const KnownLogs* logs, WitnessStore* store, WitnessOptions options,
          WitnessMetrics* metrics);

  void AddCheckpoint(absl::string_view body, Done done);

  // The latest durable cosigned checkpoint of the log whose origin hashes
  // (SHA-256, lowercase hex) to `origin_hash`; nullopt if none.
  std::optional<std::string> CheckpointByOriginHash(absl::string_view origin_hash) const;

  const NoteSigner& key() const { return key_; }

 private:
  // One log's compare-and-swap state: the latest (size, root) cosigned,
  // durable or queued to the store.
  struct Slot {
    absl::Mutex mu;
    bool cosigned ABSL_GUARDED_BY(mu) = false;
    uint64_t size ABSL_GUARDED_BY(mu) = 0;
    Hash root ABSL_GUARDED_BY(mu){};
    double tokens ABSL_GUARDED_BY(mu) = -1;  // < 0: full bucket on first use
    absl::Time refilled ABSL_GUARDED_BY(mu);
  };

  Slot* SlotFor(const std::string& origin) ABSL_LOCKS_EXCLUDED(mu_);
  bool TakeToken(Slot* slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(slot->mu);

  const NoteSigner key_;
  const KnownLogs* const logs_;
  WitnessStore* const store_;
  const WitnessOptions options_;
  WitnessMetrics* const metrics_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_WITNESS_WITNESS_H_
