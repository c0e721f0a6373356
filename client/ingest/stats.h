// What an ingest run did with its records, counted by outcome and reason:
// the summary `infratrail ingest` prints on stderr, and with --listen the
// Prometheus metrics (docs/ingest.md, "Metrics"). Thread-safe.
#ifndef INFRATRAIL_CLIENT_INGEST_STATS_H_
#define INFRATRAIL_CLIENT_INGEST_STATS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "client/ingest/filter.h"
#include "client/ingest/mapping.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace infratrail::ingest {

class IngestStats {
 public:
  // With a registry, every count is also a metric labelled source=`source`.
  IngestStats(std::string source, prometheus::Registry* registry);

  void Record();      // a record read (readable or not)
  void Unreadable();  // a record RecordReader could not read
  void Item(const MappedItem& item);
  // An event Item counted that then failed the log's entry checks: it
  // becomes unmapped.
  void EventRefused();
  void Logged(bool duplicate);

  // "12 records: 9 events logged (2 duplicates), 2 skipped (read-only 1,
  // filter system-controllers 1), 1 unmapped, 0 unreadable"; with `dry_run`
  // "9 events mapped (dry run: nothing sent)" instead of the logged part.
  std::string Summary(bool dry_run = false) const;

  uint64_t unmapped() const;
  uint64_t unreadable() const;

 private:
  const std::string source_;
  prometheus::Registry* const registry_;
  mutable absl::Mutex mu_;
  uint64_t records_ ABSL_GUARDED_BY(mu_) = 0, unreadable_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t unmapped_ ABSL_GUARDED_BY(mu_) = 0, events_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t logged_ ABSL_GUARDED_BY(mu_) = 0, duplicates_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, uint64_t> skipped_ ABSL_GUARDED_BY(mu_);
  prometheus::Family<prometheus::Counter>* records_metric_ = nullptr;
  prometheus::Family<prometheus::Counter>* outcomes_metric_ = nullptr;
  prometheus::Family<prometheus::Counter>* skipped_metric_ = nullptr;
};

// Turns each event of `mapping` that `filter` drops into kSkipped with
// reason "filter:<rule>".
void ApplyFilter(const EventFilter& filter, Mapping* mapping);

}  // namespace infratrail::ingest

#endif  // INFRATRAIL_CLIENT_INGEST_STATS_H_
