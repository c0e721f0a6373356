// Keeps a log's event index (event_index.h) in step with the monitor's
// committed state, for the console: entries are added as the audit hashes
// them, made durable just before each commit of state.json, cut back when
// the audit falls back, and rebuilt from the log when the index is missing.
//
// The state file is the truth and the index is derived from it:
//  - before a commit, the index holds at least the committed entries
//    (Sync), so after a crash it is never behind the state, only possibly
//    ahead, and Align cuts it back (at start, and before each round, as
//    a round that stopped leaves what it read past the last commit);
//  - an index behind the state (deleted, or new because --http-addr was
//    just turned on) is rebuilt by reading the entries again from the log,
//    and is kept only if they hash to the tree the monitor verified; its
//    entries are hidden from the console (EventIndex::HideEntries) from
//    the moment it is found behind until a rebuild is checked, and the
//    audit goes on without it meanwhile.
//
// Not thread-safe: the LogMonitor's thread. The index itself is read by
// the console's threads meanwhile.
#ifndef INFRATRAIL_VERIFIER_MONITOR_INDEX_KEEPER_H_
#define INFRATRAIL_VERIFIER_MONITOR_INDEX_KEEPER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/hash.h"
#include "verifier/monitor/event_index.h"
#include "verifier/monitor/finding.h"
#include "verifier/monitor/log_source.h"
#include "verifier/monitor/tree_auditor.h"

namespace infratrail {

// Opens DIR/index; one that cannot be opened (corrupt) is removed and
// created again empty, to be rebuilt. `*note` says so when it was.
absl::StatusOr<std::shared_ptr<EventIndex>> OpenEventIndex(const std::string& state_dir,
                                                           std::string* note);

class IndexKeeper {
 public:
  explicit IndexKeeper(std::shared_ptr<EventIndex> index) : index_(std::move(index)) {}

  const std::shared_ptr<EventIndex>& index() const { return index_; }

  // An index ahead of `committed_next` is cut back to it; one behind it
  // is hidden until Rebuild.
  absl::Status Align(uint64_t committed_next);
  // Entry `index` as the audit hands it over; an entry the index already
  // holds (after a fallback it is cut back first) is skipped, and so is one
  // beyond next() while the index is behind (Rebuild reads it).
  absl::Status Add(uint64_t index, absl::string_view entry, const Hash& leaf);
  // Just before state.json is replaced with `audit` and `findings`: cuts
  // the index back if the audit fell back, records the findings, and makes
  // it all durable.
  absl::Status BeforeCommit(const AuditState& audit, const std::vector<Finding>& findings);

  // Whether the index lacks committed entries and needs Rebuild.
  bool Behind(const AuditState& audit) const { return index_->next() < audit.next; }

  // Reads entries [0, audit.next) from `source` into an emptied index and
  // checks they hash to audit.range. OK when rebuilt; an operational error
  // (the log could not be read, or `stop` said stop) leaves it for a later
  // round; a finding (log.entries_changed) when the log now serves other
  // entries than the ones the monitor verified. `size` is the largest tree
  // size the monitor verified (entry bundles are fetched at that size).
  struct RebuildResult {
    absl::Status status;
    std::optional<Finding> finding;
  };
  RebuildResult Rebuild(const AuditState& audit, uint64_t size, LogSource* source,
                        const std::string& origin, const std::function<bool()>& stop);

 private:
  std::shared_ptr<EventIndex> index_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_INDEX_KEEPER_H_
