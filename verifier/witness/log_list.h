// The logs a witness cosigns for, in the witness network's log-list format
// (docs/witness.md, "Log lists"):
//
//   logs/v0
//   vkey <verifier key>        starts one log
//   origin <origin>|none       optional; none or absent: the key's name
//   bastion <url>|none         optional, ignored (no bastion support)
//   qpd <requests per day>     optional
//   contact <text>             optional
//
// Blank lines and lines starting with `#` are ignored; a line with another
// keyword inside a log is skipped (lists may grow fields) and counted in
// LogList::ignored_lines. A log's lines come in the order above.
//
// KnownLogs is add-only: a log, once known, is never removed or given other
// keys by a later list (a witness that forgot a log, or took a new key for
// it, could be made to cosign a second history). Thread-safe.
#ifndef INFRATRAIL_VERIFIER_WITNESS_LOG_LIST_H_
#define INFRATRAIL_VERIFIER_WITNESS_LOG_LIST_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/note_key.h"

namespace infratrail {

// A list is at most this large (a public list of 10,000 logs is ~2 MiB).
inline constexpr size_t kMaxLogListBytes = size_t{16} << 20;
// The longest origin taken (real ones are under 100 bytes; the witness's
// state records hold at most 65,535).
inline constexpr size_t kMaxOriginBytes = 1024;

struct WitnessLog {
  std::string origin;
  // The log's keys (one per `vkey` line naming this origin).
  std::vector<NoteVerifier> keys;
  uint64_t qpd = 0;  // 0: not given
  std::string contact;
};

struct LogList {
  std::vector<WitnessLog> logs;  // in list order, one per origin
  size_t ignored_lines = 0;
};

// Parses a list. InvalidArgument "<source>:<line>: <what>" for a missing
// `logs/v0` header, a malformed or unparsable vkey, a line out of order, an
// origin line that is not a valid checkpoint origin, a bad qpd. Two `vkey`
// entries for one origin give that log both keys.
absl::StatusOr<LogList> ParseLogList(absl::string_view text, absl::string_view source);

// The text form ParseLogList reads back (known logs are kept in it).
std::string FormatLogList(const std::vector<WitnessLog>& logs);

struct MergeReport {
  std::vector<std::string> added;  // origins
  // "<origin>: ..." for each log of the list refused (other keys than the
  // known ones, or the witness's own key).
  std::vector<std::string> refused;
};

class KnownLogs {
 public:
  // `witness_public_key`: the witness's own Ed25519 public key, which no log
  // may use.
  explicit KnownLogs(std::string witness_public_key)
      : witness_public_key_(std::move(witness_public_key)) {}

  // Called with every log that will be known (the old ones first) before
  // new ones are added; an error adds nothing. The witness writes them down
  // here, so a log is on disk before any request can use it.
  using Persist = std::function<absl::Status(const std::vector<WitnessLog>& all)>;

  // Adds the logs of `list` not yet known. A known origin listed with a
  // different set of keys keeps its keys (reported as refused), as does a
  // log that uses the witness's key. With `persist`, nothing is added unless
  // it returns OK (its error is returned).
  absl::StatusOr<MergeReport> Merge(const LogList& list, const Persist& persist = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The log for `origin`, or null. The pointer stays valid for the life of
  // this object (logs are never removed).
  const WitnessLog* Find(absl::string_view origin) const ABSL_LOCKS_EXCLUDED(mu_);
  // By lowercase hex SHA-256 of the origin (the monitoring path).
  const WitnessLog* FindByOriginHash(absl::string_view hex) const ABSL_LOCKS_EXCLUDED(mu_);

  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);
  // Every known log, in the order they became known.
  std::vector<WitnessLog> Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::string witness_public_key_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<WitnessLog>> logs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, const WitnessLog*> by_origin_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, const WitnessLog*> by_hash_ ABSL_GUARDED_BY(mu_);
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_WITNESS_LOG_LIST_H_
