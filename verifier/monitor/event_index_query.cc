// EventIndex's read side: Search, Get, Findings, FindingHistogram. Each call
// reads one snapshot of the database (docs/event_index.md, "Queries").
#include <rocksdb/db.h>
#include <rocksdb/snapshot.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/encoding.h"
#include "core/io/rocksdb_util.h"
#include "nlohmann/json.hpp"
#include "verifier/monitor/event_index.h"
#include "verifier/monitor/event_index_format.h"

namespace infratrail {

namespace ix = event_index;

namespace {

constexpr int64_t kMaxMicros = std::numeric_limits<int64_t>::max();
constexpr int64_t kMinMicros = std::numeric_limits<int64_t>::min();
constexpr size_t kMaxHistogramBuckets = 10'000;

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
absl::string_view ToView(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }

// Microseconds m with FromUnixMicros(m) in [from, to), as [lo, hi).
std::pair<int64_t, int64_t> MicrosRange(std::optional<absl::Time> from,
                                        std::optional<absl::Time> to) {
  auto ceil = [](absl::Time t) {
    int64_t m = absl::ToUnixMicros(t);  // rounds down, saturates
    if (absl::FromUnixMicros(m) < t && m < kMaxMicros) ++m;
    return m;
  };
  return {from ? ceil(*from) : kMinMicros, to ? ceil(*to) : kMaxMicros};
}

absl::Status CheckRange(absl::string_view operation, std::optional<absl::Time> from,
                        std::optional<absl::Time> to) {
  if (from && to && *from >= *to) {
    return absl::InvalidArgumentError(absl::StrCat(operation, ": from (", absl::FormatTime(*from),
                                                   ") is not before to (", absl::FormatTime(*to),
                                                   ")"));
  }
  return absl::OkStatus();
}

size_t ClampLimit(size_t limit) { return std::clamp<size_t>(limit, 1, kMaxSearchLimit); }

// A query with its strings hashed once, to test postings' fingerprints.
class Filter {
 public:
  explicit Filter(const EventQuery& q)
      : q_(q),
        any_(!q.provider.empty() || !q.type.empty() || !q.resource_id.empty() || !q.actor.empty() ||
             q.kind.has_value() || q.from.has_value() || q.to.has_value()),
        timed_(q.from.has_value() || q.to.has_value()),
        provider_(ix::FieldHash(q.provider)),
        type_(ix::FieldHash(q.type)),
        resource_id_(ix::FieldHash(q.resource_id)),
        actor_(ix::FieldHash(q.actor)) {
    std::tie(lo_, hi_) = MicrosRange(q.from, q.to);
  }

  bool timed() const { return timed_; }
  int64_t lo() const { return lo_; }
  int64_t hi() const { return hi_; }

  // False only if the event cannot match.
  bool MayMatch(const ix::Fingerprint& f) const {
    if (!any_) return true;
    if (!f.parsed) return false;
    return (q_.provider.empty() || f.provider == provider_) &&
           (q_.type.empty() || f.type == type_) &&
           (q_.resource_id.empty() || f.resource_id == resource_id_) &&
           (q_.actor.empty() || f.actor == actor_) &&
           (!q_.kind || f.kind == static_cast<uint32_t>(*q_.kind)) &&
           (!timed_ || (f.has_time && f.micros >= lo_ && f.micros < hi_));
  }

  // The event's own record against every filter, exactly.
  bool Matches(const IndexedEvent& e) const {
    if (!any_) return true;
    if (!e.parsed) return false;
    if (timed_) {
      if (!e.occurred_at) return false;
      const int64_t m = absl::ToUnixMicros(*e.occurred_at);
      if (m < lo_ || m >= hi_) return false;
    }
    return (q_.provider.empty() || e.provider == q_.provider) &&
           (q_.type.empty() || e.type == q_.type) &&
           (q_.resource_id.empty() || e.resource_id == q_.resource_id) &&
           (q_.actor.empty() || e.actor == q_.actor) && (!q_.kind || e.kind == *q_.kind);
  }

 private:
  const EventQuery& q_;
  const bool any_;
  const bool timed_;
  const uint32_t provider_, type_, resource_id_, actor_;
  int64_t lo_ = 0, hi_ = 0;
};

// The postings to iterate: the most selective key the query names.
std::string DriverPrefix(const EventQuery& q) {
  if (!q.resource_id.empty()) return ix::ResourcePrefix(q.resource_id);
  if (!q.actor.empty()) return ix::ActorPrefix(q.actor);
  if (q.kind) return ix::KindPrefix(*q.kind);
  return ix::AllPrefix();
}

bool FindingMatches(const FindingQuery& q, const ix::FindingHeader& h, int64_t lo, int64_t hi) {
  return (!q.severity || h.severity == *q.severity) && (q.rule.empty() || h.rule == q.rule) &&
         (q.kind.empty() || h.kind == q.kind) &&
         (q.resource.empty() || absl::StrContains(h.resource, q.resource)) &&
         (q.actor.empty() || h.actor == q.actor) && h.micros >= lo && h.micros < hi;
}

}  // namespace

std::vector<std::pair<uint64_t, uint64_t>> EventIndex::ZoneIntervals(int64_t lo_micros,
                                                                     int64_t hi_micros,
                                                                     uint64_t upper) const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  absl::ReaderMutexLock l(&mu_);
  const uint64_t blocks = std::min<uint64_t>(zones_.size(), (upper - 1) / ix::kZoneBlock + 1);
  for (uint64_t b = blocks; b-- > 0;) {
    if (!zones_[b].MayHold(lo_micros, hi_micros)) continue;
    const uint64_t lo = b * ix::kZoneBlock;
    const uint64_t hi = std::min(upper, lo + ix::kZoneBlock);
    if (!out.empty() && out.back().first == hi) {
      out.back().first = lo;
    } else {
      out.emplace_back(lo, hi);
    }
  }
  return out;
}

absl::StatusOr<EventPage> EventIndex::Search(const EventQuery& q) const {
  if (absl::Status s = CheckRange("Search", q.from, q.to); !s.ok()) return s;
  const size_t limit = ClampLimit(q.limit);
  const uint64_t upper = std::min(q.before, q.verified);
  EventPage page;
  if (upper == 0) return page;
  const Filter filter(q);
  const std::string prefix = DriverPrefix(q);

  rocksdb::ManagedSnapshot snapshot(db_.get());
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot.snapshot();
  if (absl::Status s = CheckShown("Search"); !s.ok()) return s;
  // The time range becomes ranges of indices through the zones; with the
  // snapshot taken first, the zones cover all it holds.
  const std::vector<std::pair<uint64_t, uint64_t>> intervals =
      filter.timed() ? ZoneIntervals(filter.lo(), filter.hi(), upper)
                     : std::vector<std::pair<uint64_t, uint64_t>>{{0, upper}};
  const std::string first = ix::PostingKey(prefix, upper - 1);
  const std::string bound = prefix + std::string(8, '\xff') + std::string(1, '\0');
  rocksdb::Slice lower_slice(first), upper_slice(bound);
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_[ix::kPostings]));
  const std::string what = absl::StrCat("Search: event index ", dir_);

  for (const auto& [lo, hi] : intervals) {
    for (it->Seek(ToSlice(ix::PostingKey(prefix, hi - 1))); it->Valid(); it->Next()) {
      uint64_t index = 0;
      if (it->key().size() != prefix.size() + 8 || !ix::PostingIndex(ToView(it->key()), &index) ||
          index < lo) {
        break;
      }
      if (page.examined == options_.max_examined) {
        page.next_before = index + 1;  // not examined: the next page starts with it
        return page;
      }
      ++page.examined;
      // A fingerprint that does not decode makes a candidate: the record decides.
      ix::Fingerprint f;
      if (ix::DecodeFingerprint(ToView(it->value()), &f) && !filter.MayMatch(f)) continue;
      std::string value;
      rocksdb::Status st = db_->Get(ro, handles_[ix::kEvents], ix::EventKey(index), &value);
      if (st.IsNotFound()) continue;  // a key Truncate could not remove
      if (!st.ok()) return RocksDbError(st, what);
      IndexedEvent e;
      if (absl::Status s = ix::DecodeEvent(index, value, &e); !s.ok()) return s;
      if (!filter.Matches(e)) continue;
      page.events.push_back(std::move(e));
      if (page.events.size() == limit) {
        if (index > 0) page.next_before = index;
        return page;
      }
    }
    if (!it->status().ok()) return RocksDbError(it->status(), what);
  }
  return page;
}

absl::StatusOr<std::optional<IndexedEvent>> EventIndex::Get(uint64_t index) const {
  std::string value;
  rocksdb::Status st =
      db_->Get(rocksdb::ReadOptions(), handles_[ix::kEvents], ix::EventKey(index), &value);
  if (absl::Status s = CheckShown(absl::StrCat("Get ", index)); !s.ok()) return s;
  if (st.IsNotFound()) return std::optional<IndexedEvent>();
  if (!st.ok()) return RocksDbError(st, absl::StrCat("Get ", index, ": event index ", dir_));
  IndexedEvent e;
  if (absl::Status s = ix::DecodeEvent(index, value, &e); !s.ok()) return s;
  return std::optional<IndexedEvent>(std::move(e));
}

absl::StatusOr<FindingPage> EventIndex::Findings(const FindingQuery& q) const {
  if (absl::Status s = CheckRange("Findings", q.from, q.to); !s.ok()) return s;
  const size_t limit = ClampLimit(q.limit);
  const auto [lo, hi] = MicrosRange(q.from, q.to);
  FindingPage page;
  if (q.before_seq == 0) return page;
  const std::string what = absl::StrCat("Findings: event index ", dir_);
  rocksdb::ReadOptions ro;
  const std::string first = ix::FindingKey(q.before_seq - 1);
  const std::string bound(1, ix::kFindingPrefix + 1);
  rocksdb::Slice lower_slice(first), upper_slice(bound);
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_[ix::kFindings]));
  uint64_t seq = 0;
  for (it->Seek(lower_slice); it->Valid() && ix::FindingSeq(ToView(it->key()), &seq); it->Next()) {
    if (page.examined == options_.max_examined) {
      page.next_before_seq = seq + 1;
      return page;
    }
    ++page.examined;
    ix::FindingHeader h;
    if (absl::Status s = ix::DecodeFindingHeader(seq, ToView(it->value()), &h); !s.ok()) return s;
    if (!FindingMatches(q, h, lo, hi)) continue;
    nlohmann::json j = nlohmann::json::parse(h.json, nullptr, /*allow_exceptions=*/false);
    absl::StatusOr<Finding> f = Finding::FromJson(j);
    if (!f.ok()) {
      return absl::DataLossError(
          absl::StrCat(what, ": the record of finding ", seq, ": ", f.status().message()));
    }
    page.findings.push_back(*std::move(f));
    if (page.findings.size() == limit) {
      if (seq > 0) page.next_before_seq = seq;
      return page;
    }
  }
  if (!it->status().ok()) return RocksDbError(it->status(), what);
  return page;
}

absl::StatusOr<std::vector<SeverityCounts>> EventIndex::FindingHistogram(
    absl::Time from, absl::Time to, absl::Duration bucket) const {
  if (absl::Status s = CheckRange("FindingHistogram", from, to); !s.ok()) return s;
  if (bucket <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("FindingHistogram: bucket is not positive");
  }
  const double buckets = absl::FDivDuration(to - from, bucket);
  if (!(buckets <= static_cast<double>(kMaxHistogramBuckets))) {
    return absl::InvalidArgumentError(
        absl::StrCat("FindingHistogram: bucket ", absl::FormatDuration(bucket), " makes more than ",
                     kMaxHistogramBuckets, " buckets between from and to"));
  }
  std::vector<SeverityCounts> out(static_cast<size_t>(std::ceil(buckets)));
  for (size_t i = 0; i < out.size(); ++i) out[i].start = from + static_cast<int64_t>(i) * bucket;
  const auto [lo, hi] = MicrosRange(from, to);
  rocksdb::ReadOptions ro;
  const std::string first = ix::FindingTimeKey(lo, 0);
  const std::string bound = ix::FindingTimeKey(hi, 0);
  rocksdb::Slice lower_slice(first), upper_slice(bound);
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_[ix::kFindings]));
  uint64_t counted = 0;
  for (it->Seek(lower_slice); it->Valid(); it->Next()) {
    const absl::string_view key = ToView(it->key());
    if (key.size() != 17 || it->value().size() != 1) continue;
    if (++counted > options_.max_histogram_findings) {
      return absl::ResourceExhaustedError(
          absl::StrCat("FindingHistogram: more than ", options_.max_histogram_findings,
                       " findings between from and to; ask for a shorter range"));
    }
    const absl::Time t =
        absl::FromUnixMicros(ix::FromOffsetMicros(ReadUint64BigEndian(key.substr(1))));
    absl::Duration rest;
    const size_t i = std::min<size_t>(
        static_cast<size_t>(absl::IDivDuration(t - from, bucket, &rest)), out.size() - 1);
    // Severity's values in order, as EncodeFinding stores them.
    SeverityCounts& c = out[i];
    uint64_t* counts[] = {&c.critical, &c.alert, &c.warning, &c.notice};
    const auto severity = static_cast<uint8_t>(it->value()[0]);
    if (severity < std::size(counts)) ++*counts[severity];
  }
  if (!it->status().ok()) {
    return RocksDbError(it->status(), absl::StrCat("FindingHistogram: event index ", dir_));
  }
  return out;
}

}  // namespace infratrail
