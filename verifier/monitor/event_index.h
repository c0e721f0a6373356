// EventIndex: the monitor's searchable copy of one followed log's verified
// events and of its findings, for the web console (issue #20). One RocksDB
// database per log, in <state dir>/index. It is derived data: the monitor's
// state.json is the truth, and the index may be deleted (Destroy) and is
// then rebuilt from the log. The on-disk format, the query plans and their
// bounds are specified in docs/event_index.md.
//
// Threads: one writer thread calls Add, Sync, Truncate, AddFindings and
// TruncateFindings; any number of other threads call Search, Get, Findings
// and FindingHistogram concurrently with it and with each other. Every write
// to the database is one atomic batch, and every read runs on one snapshot
// and checks every filter against the event's own record, so a reader never
// returns an event (or finding) that does not match its query, whatever the
// writer does meanwhile. Reads see Add's entries once written (by Sync, or
// when the writer's buffer fills), before they are durable.
#ifndef INFRATRAIL_VERIFIER_MONITOR_EVENT_INDEX_H_
#define INFRATRAIL_VERIFIER_MONITOR_EVENT_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/hash.h"
#include "verifier/monitor/finding.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace infratrail {
namespace event_index {
class Zone;
}  // namespace event_index

// One logged entry as indexed.
struct IndexedEvent {
  uint64_t index = 0;
  Hash leaf_hash = {};
  std::string entry{};  // the entry bytes as logged
  bool parsed = false;  // the entry parsed as an infratrail.v1.InfraEvent
  // The event's summary; zero and empty when !parsed.
  int kind = 0;  // infratrail.v1.EventKind, unknown values as they came
  std::string provider{};
  std::string type{};
  std::string resource_id{};
  std::string actor{};  // actor.principal
  // Truncated to the microsecond; absent when the event has none.
  std::optional<absl::Time> occurred_at{};
};

// Every field set is a filter; an event is returned only if it passes all
// of them. Any filter excludes entries that did not parse.
struct EventQuery {
  std::string provider{};  // exact bytes; empty = any
  std::string type{};
  std::string resource_id{};
  std::string actor{};
  std::optional<int> kind{};
  std::optional<absl::Time> from{};  // occurred_at in [from, to), to the microsecond
  std::optional<absl::Time> to{};
  // Only events with index < verified: the caller passes what the monitor
  // has verified, its state's audit.trusted_next (the index may hold
  // entries beyond it).
  uint64_t verified = 0;
  // Paging: only events with index < before. Results are newest (highest
  // index) first.
  uint64_t before = UINT64_MAX;
  size_t limit = 50;  // clamped to [1, kMaxSearchLimit]
};

inline constexpr size_t kMaxSearchLimit = 500;

struct EventPage {
  std::vector<IndexedEvent> events{};
  // Set when more may exist: search again with before = *next_before. Unset
  // when every candidate below `before` was examined.
  std::optional<uint64_t> next_before{};
  // Candidates read from the driving key range (docs/event_index.md).
  uint64_t examined = 0;
};

// As EventQuery, for findings.
struct FindingQuery {
  std::optional<Severity> severity{};  // exact
  std::string rule{};                  // exact; empty = any
  std::string kind{};                  // exact, as in Finding::kind ("ACCESS")
  // A substring of Finding::resource ("provider/type/id"), bytes compared,
  // so an id alone finds the findings about it.
  std::string resource{};
  std::string actor{};               // exact
  std::optional<absl::Time> from{};  // Finding::time in [from, to), to the microsecond
  std::optional<absl::Time> to{};
  uint64_t before_seq = UINT64_MAX;  // paging: seq < before_seq, newest (highest seq) first
  size_t limit = 50;                 // clamped to [1, kMaxSearchLimit]
};

struct FindingPage {
  std::vector<Finding> findings{};            // without evidence_files (not stored)
  std::optional<uint64_t> next_before_seq{};  // as EventPage::next_before
  uint64_t examined = 0;
};

// Findings raised in [start, start + bucket), by severity.
struct SeverityCounts {
  absl::Time start = absl::UnixEpoch();
  uint64_t critical = 0;
  uint64_t alert = 0;
  uint64_t warning = 0;
  uint64_t notice = 0;
};

struct EventIndexOptions {
  // RocksDB's block cache; memtables (write_buffer_bytes) are charged to it.
  size_t block_cache_bytes = size_t{64} << 20;
  size_t write_buffer_bytes = size_t{32} << 20;
  // Adds are written to the database (not synced) once this many bytes of
  // them are buffered.
  size_t add_buffer_bytes = size_t{4} << 20;
  // Candidates one Search or Findings call reads at most (at least 1)
  // before it returns what it found with next_before set: 50,000 take
  // 10-20 ms here (docs/benchmarks.md).
  uint64_t max_examined = 50'000;
  // Findings one FindingHistogram counts at most.
  uint64_t max_histogram_findings = 10'000'000;
};

class EventIndex {
 public:
  // Opens the index in `dir`, creating it if missing. Errors name `dir`:
  // DataLoss for a corrupt database, FailedPrecondition for one that is not
  // an index of this format (delete it and rebuild), Unavailable when
  // another process holds it.
  static absl::StatusOr<std::unique_ptr<EventIndex>> Open(const std::string& dir,
                                                          const EventIndexOptions& options = {});
  // Deletes the index in `dir` (nothing if there is none), to rebuild it.
  // It must not be open.
  static absl::Status Destroy(const std::string& dir);
  ~EventIndex();
  EventIndex(const EventIndex&) = delete;
  EventIndex& operator=(const EventIndex&) = delete;

  // --- the writer thread ---------------------------------------------------
  // After a failed write or sync every later write returns that error
  // (reads go on): reopen the index to go on writing.

  // Appends one entry; `index` must equal next() (else FailedPrecondition).
  // Buffered: durable after Sync().
  absl::Status Add(uint64_t index, absl::string_view entry, const Hash& leaf_hash);
  // Writes the buffered adds and fsyncs the WAL: every Add, Truncate and
  // AddFindings before it is durable. Call it before the monitor commits
  // its state.
  absl::Status Sync();
  // Entries [0, next()) are indexed (durable or buffered). Any thread.
  uint64_t next() const;
  // Forgets entries >= n with their secondary keys (after a crash the index
  // may be ahead of state.json; an audit toward a lying checkpoint was
  // rolled back). Nothing when n >= next(). Durable after Sync().
  absl::Status Truncate(uint64_t n);
  // Stores findings by Finding::seq: a seq stored again is replaced, so
  // adding the same findings twice is harmless. Durable after Sync().
  absl::Status AddFindings(const std::vector<Finding>& findings);
  // Forgets findings with seq >= next_seq: the monitor calls it at start
  // with its state's next_seq, so findings stored before a crash that lost
  // them from state.json do not linger.
  absl::Status TruncateFindings(uint64_t next_seq);
  // While hidden, Search and Get return Unavailable instead of any entry
  // (findings stay readable): the writer hides entries it has not checked
  // yet, such as those of a rebuild before they are found to hash to the
  // verified tree. Not stored: an index opens shown.
  void HideEntries(bool hidden);

  // --- any thread ------------------------------------------------------------

  // Events matching `q`, newest first (docs/event_index.md: the plan and the
  // bound on the work). InvalidArgument naming the field for from >= to;
  // Unavailable while the entries are hidden.
  absl::StatusOr<EventPage> Search(const EventQuery& q) const;
  // The entry at `index`, or nullopt if it is not indexed (or not yet
  // written). The caller checks it against what it has verified.
  // Unavailable while the entries are hidden.
  absl::StatusOr<std::optional<IndexedEvent>> Get(uint64_t index) const;
  // Findings matching `q`, highest seq first; bounded as Search.
  absl::StatusOr<FindingPage> Findings(const FindingQuery& q) const;
  // Counts per severity in consecutive buckets [from + i*bucket, ...) up to
  // `to`, the last one possibly shorter. InvalidArgument naming the
  // argument for from >= to, bucket <= 0, or more than 10,000 buckets;
  // ResourceExhausted when [from, to) holds more findings than
  // max_histogram_findings.
  absl::StatusOr<std::vector<SeverityCounts>> FindingHistogram(absl::Time from, absl::Time to,
                                                               absl::Duration bucket) const;

 private:
  struct Pending;
  EventIndex(std::string dir, EventIndexOptions options);

  absl::Status Load();
  // Writes `batch`; a failure becomes sticky_.
  absl::Status Write(rocksdb::WriteBatch* batch, absl::string_view operation);
  absl::Status FlushPending();
  absl::Status TruncateWritten(uint64_t n);
  // The zone of `block` from its entries below `end`.
  absl::StatusOr<event_index::Zone> ComputeZone(uint64_t block, uint64_t end) const;
  // Unavailable while the entries are hidden; read after the data it
  // guards, so what was read was not written while hidden.
  absl::Status CheckShown(absl::string_view operation) const;
  // The index ranges [lo, hi) below `upper`, highest first, whose zones may
  // hold times in [lo_micros, hi_micros).
  std::vector<std::pair<uint64_t, uint64_t>> ZoneIntervals(int64_t lo_micros, int64_t hi_micros,
                                                           uint64_t upper) const;

  const std::string dir_;
  EventIndexOptions options_;  // set by the constructor only
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;

  mutable absl::Mutex mu_;
  // [0, next_) indexed, written or in pending_.
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;
  // The zone of each block of entries written (event_index_format.h).
  // Always covers what the database holds: widened before a write,
  // narrowed only after a Truncate deleted the entries.
  std::vector<event_index::Zone> zones_ ABSL_GUARDED_BY(mu_);
  bool hidden_ ABSL_GUARDED_BY(mu_) = false;  // HideEntries

  // Owned by the writer thread (no lock: only it touches them).
  std::unique_ptr<Pending> pending_;
  uint64_t written_ = 0;  // entries [0, written_) are in the database
  absl::Status sticky_;   // the first failed write or sync
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_EVENT_INDEX_H_
