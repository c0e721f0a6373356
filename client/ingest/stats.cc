#include "client/ingest/stats.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace infratrail::ingest {

IngestStats::IngestStats(std::string source, prometheus::Registry* registry)
    : source_(std::move(source)), registry_(registry) {
  if (registry_ == nullptr) return;
  records_metric_ = &prometheus::BuildCounter()
                         .Name("infratrail_ingest_records_total")
                         .Help("Source records read (JSON lines, container items)")
                         .Register(*registry_);
  outcomes_metric_ = &prometheus::BuildCounter()
                          .Name("infratrail_ingest_outcomes_total")
                          .Help(
                              "What records became: outcome logged, duplicate, skipped, "
                              "unmapped or unreadable")
                          .Register(*registry_);
  skipped_metric_ = &prometheus::BuildCounter()
                         .Name("infratrail_ingest_skipped_total")
                         .Help(
                             "Mapped items not logged, by reason (read-only, stage, failed, "
                             "filter:<rule>, ...)")
                         .Register(*registry_);
}

void IngestStats::Record() {
  absl::MutexLock lock(&mu_);
  ++records_;
  if (records_metric_ != nullptr) records_metric_->Add({{"source", source_}}).Increment();
}

void IngestStats::Unreadable() {
  absl::MutexLock lock(&mu_);
  ++unreadable_;
  if (outcomes_metric_ != nullptr) {
    outcomes_metric_->Add({{"source", source_}, {"outcome", "unreadable"}}).Increment();
  }
}

void IngestStats::Item(const MappedItem& item) {
  absl::MutexLock lock(&mu_);
  switch (item.kind) {
    case MappedItem::Kind::kEvent:
      ++events_;
      break;
    case MappedItem::Kind::kSkipped:
      ++skipped_[item.reason];
      if (outcomes_metric_ != nullptr) {
        outcomes_metric_->Add({{"source", source_}, {"outcome", "skipped"}}).Increment();
        skipped_metric_->Add({{"source", source_}, {"reason", item.reason}}).Increment();
      }
      break;
    case MappedItem::Kind::kUnmapped:
      ++unmapped_;
      if (outcomes_metric_ != nullptr) {
        outcomes_metric_->Add({{"source", source_}, {"outcome", "unmapped"}}).Increment();
      }
      break;
  }
}

void IngestStats::EventRefused() {
  absl::MutexLock lock(&mu_);
  if (events_ > 0) --events_;
  ++unmapped_;
  if (outcomes_metric_ != nullptr) {
    outcomes_metric_->Add({{"source", source_}, {"outcome", "unmapped"}}).Increment();
  }
}

void IngestStats::Logged(bool duplicate) {
  absl::MutexLock lock(&mu_);
  ++logged_;
  if (duplicate) ++duplicates_;
  if (outcomes_metric_ != nullptr) {
    outcomes_metric_->Add({{"source", source_}, {"outcome", duplicate ? "duplicate" : "logged"}})
        .Increment();
  }
}

std::string IngestStats::Summary(bool dry_run) const {
  absl::MutexLock lock(&mu_);
  uint64_t skipped = 0;
  std::vector<std::string> reasons;
  for (const auto& [reason, n] : skipped_) {
    skipped += n;
    reasons.push_back(absl::StrCat(reason, " ", n));
  }
  return absl::StrCat(records_, " records: ", logged_,
                      dry_run ? " events mapped (dry run: nothing sent)"
                              : absl::StrCat(" events logged (", duplicates_, " duplicates)"),
                      ", ", skipped, " skipped",
                      reasons.empty() ? "" : absl::StrCat(" (", absl::StrJoin(reasons, ", "), ")"),
                      ", ", unmapped_, " unmapped, ", unreadable_, " unreadable");
}

uint64_t IngestStats::unmapped() const {
  absl::MutexLock lock(&mu_);
  return unmapped_;
}

uint64_t IngestStats::unreadable() const {
  absl::MutexLock lock(&mu_);
  return unreadable_;
}

void ApplyFilter(const EventFilter& filter, Mapping* mapping) {
  for (MappedItem& item : *mapping) {
    if (item.kind != MappedItem::Kind::kEvent) continue;
    if (const std::string* rule = filter.Match(item.event)) {
      item.kind = MappedItem::Kind::kSkipped;
      item.reason = absl::StrCat("filter:", *rule);
      item.event.Clear();
    }
  }
}

}  // namespace infratrail::ingest
