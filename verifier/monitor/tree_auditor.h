// One round of the monitor's tree checks over a LogSource, trusting nothing
// it reads:
//   1. the checkpoint's signature, and the witness quorum if one is set: a
//      log-signed checkpoint without it is checked against the trusted one
//      (2.) but never trusted, and is a WARNING (checkpoint.unwitnessed),
//      not a lie: the log may publish under --witness-fail-open;
//   2. against what the monitor trusts: smaller = rollback, same size and
//      another root = fork, larger = a consistency proof built from the
//      log's own hash tiles must verify (so a fork is caught even when the
//      entries cannot be read);
//   3. every new entry is fetched, hashed and appended to the compact range
//      kept in the state; the recomputed root must equal the signed root,
//      every hash tile the log serves must equal the one recomputed from
//      the entries, and entries re-served from an earlier bundle must hash
//      as they did.
// Progress is handed to the observer to commit (state and findings in one
// atomic step) every `commit_every` entries and at the end, so a crash
// never skips an entry and a long first audit resumes where it stopped.
//
// Thread-compatible.
#ifndef INFRATRAIL_VERIFIER_MONITOR_TREE_AUDITOR_H_
#define INFRATRAIL_VERIFIER_MONITOR_TREE_AUDITOR_H_

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/compact_range.h"
#include "core/hash.h"
#include "core/note_key.h"
#include "core/tile.h"
#include "core/witness_policy.h"
#include "verifier/monitor/finding.h"
#include "verifier/monitor/log_source.h"

namespace infratrail {

// What the monitor trusts about one log, and how far its audit has got.
// Invariant: trusted size <= next <= target size (when there is a target).
struct AuditState {
  // The last checkpoint fully audited (note as received); empty before the
  // first one.
  std::string trusted_note;
  // A verified checkpoint, consistent with the trusted one, whose entries
  // are being audited; empty when none.
  std::string target_note;
  // Entries [0, next) are hashed into `range` and `rows`.
  uint64_t next = 0;
  CompactRange range;
  // rows[L]: the hashes of tree level 8L already computed in the tile of
  // level L that is not yet full ((next >> 8L) % 256 of them).
  std::array<std::vector<Hash>, kMaxTileLevel + 1> rows;
  // The same at the trusted checkpoint's size, to fall back to when an
  // audit toward a target fails (the target was a lie).
  uint64_t trusted_next = 0;
  CompactRange trusted_range;
  std::array<std::vector<Hash>, kMaxTileLevel + 1> trusted_rows;
  // Keys of CRITICAL and ALERT findings already raised about checkpoints,
  // so a log that keeps lying the same way is reported once.
  std::vector<std::string> raised;
};

class AuditObserver {
 public:
  virtual ~AuditObserver() = default;
  // Makes `state` and `findings` durable together (the findings are then
  // delivered). An error ends the round as operational.
  virtual absl::Status Commit(const AuditState& state, std::vector<Finding> findings) = 0;
  // Entries audited so far in this round, of `total`.
  virtual void Progress(uint64_t done, uint64_t total) {}
};

struct AuditorOptions {
  NoteVerifier log_key;
  WitnessPolicy witnesses;
  // Bundles fetched per batch (with their level-0 hash tiles), at most.
  size_t bundles_per_batch = 64;
  // What two batches of bundles (one being hashed, the next being fetched)
  // may hold: batches start at 4 bundles and double, but never beyond what
  // fits this at the largest bundle seen (at least 1).
  size_t batch_budget_bytes = size_t{128} << 20;
  // Commit after this many new entries (and at the end of a round).
  uint64_t commit_every = uint64_t{1} << 20;
  // Called for every new entry in index order; may add findings. An error
  // (the event could not be evaluated: a policy's git clone unreadable)
  // ends the round as operational at the last commit, so the entry is
  // handed over again by a later round.
  std::function<absl::Status(uint64_t index, absl::string_view entry, const Hash& leaf_hash,
                             std::vector<Finding>* findings)>
      on_entry;
  // Checked between batches: true ends the round at its next commit point.
  std::function<bool()> stop;
};

struct RoundResult {
  bool complete = false;  // the audit reached the latest checkpoint (or found a lie)
  uint64_t log_size = 0;  // of the latest checkpoint read, 0 if none
  uint64_t verified_size = 0;
  uint64_t entries = 0;                                     // new entries hashed this round
  size_t critical = 0, alert = 0, warning = 0, notice = 0;  // findings raised this round
  // CRITICAL or ALERT conditions met again that earlier rounds reported
  // (the log still shows the same fork): not reported again, but the
  // round is not clean.
  size_t known = 0;
  // The log's latest checkpoint lacks the witness quorum (and is not
  // trusted): a WARNING, once per checkpoint.
  bool unwitnessed = false;
  std::vector<OperationalEvent> operational;  // why the round stopped early
};

class TreeAuditor {
 public:
  explicit TreeAuditor(AuditorOptions options) : options_(std::move(options)) {}

  RoundResult Round(AuditState* state, LogSource* source, AuditObserver* observer);

 private:
  struct Round_;
  AuditorOptions options_;
  Hasher hasher_;
};

// Records `key` in state->raised (the newest kMaxRaisedKeys are kept);
// false if it was there already: the finding was raised before.
inline constexpr size_t kMaxRaisedKeys = 64;
bool MarkRaised(AuditState* state, std::string key);

// "unreachable", "timeout", "not_found", "too_large", "http_status" or
// "malformed", from a LogSource or decoding error.
std::string OperationalKind(const absl::Status& status);

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_TREE_AUDITOR_H_
