// EventIndex against a naive reference: every query's pages, concatenated,
// must equal a filter over the events added, newest first. No gRPC in this
// binary, so the concurrency test runs under ThreadSanitizer.
#include "verifier/monitor/event_index.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "infratrail/v1/event.pb.h"
#include "verifier/monitor/event_index_format.h"

namespace infratrail {
namespace {

namespace fs = std::filesystem;

const absl::Time kT0 = absl::FromUnixSeconds(1'790'000'000);

struct Ev {
  int kind = 1;
  std::string provider{};
  std::string type{};
  std::string resource_id{};
  std::string actor{};
  std::optional<absl::Time> at{};
};

std::string Entry(const Ev& ev) {
  v1::InfraEvent e;
  e.set_kind(static_cast<v1::EventKind>(ev.kind));
  e.mutable_resource()->set_provider(ev.provider);
  e.mutable_resource()->set_type(ev.type);
  e.mutable_resource()->set_id(ev.resource_id);
  e.mutable_actor()->set_principal(ev.actor);
  if (ev.at) {
    e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(*ev.at));
    e.mutable_occurred_at()->set_nanos(static_cast<int32_t>(
        (*ev.at - absl::FromUnixSeconds(absl::ToUnixSeconds(*ev.at))) / absl::Nanoseconds(1)));
  }
  e.set_justification("scheduled change");
  return e.SerializeAsString();
}

// Not an InfraEvent: the tag's varint never ends.
const std::string kUnparseable = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";

// A small world, so that every filter and combination has matches.
Ev RandomEv(std::mt19937_64& rng) {
  static const char* kProviders[] = {"aws", "gcp", "onprem"};
  static const char* kTypes[] = {"vm", "bucket", "kms-key"};
  Ev ev;
  ev.kind = static_cast<int>(rng() % 4) + 1;
  ev.provider = kProviders[rng() % 3];
  ev.type = kTypes[rng() % 3];
  ev.resource_id = absl::StrCat("res-", rng() % 12);
  ev.actor = absl::StrCat("actor-", rng() % 5);
  if (rng() % 10 != 0) ev.at = kT0 + absl::Minutes(static_cast<int64_t>(rng() % 1000));
  return ev;
}

class EventIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = absl::StrCat(::testing::TempDir(), "/event_index_XXXXXX");
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ + "/index";
    Reopen();
  }
  void TearDown() override {
    index_.reset();
    fs::remove_all(fs::path(dir_).parent_path());
  }
  void Reopen(EventIndexOptions options = {}) {
    index_.reset();
    absl::StatusOr<std::unique_ptr<EventIndex>> i = EventIndex::Open(dir_, options);
    ASSERT_TRUE(i.ok()) << i.status();
    index_ = *std::move(i);
  }

  // Adds `ev` (nullopt: an unparseable entry) at next(), remembering it.
  void Add(const std::optional<Ev>& ev) {
    const std::string entry = ev ? Entry(*ev) : kUnparseable;
    const uint64_t i = index_->next();
    ASSERT_TRUE(index_->Add(i, entry, HashLeaf(entry)).ok());
    events_.resize(i);
    events_.push_back(ev);
  }
  void AddRandom(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (size_t i = 0; i < n; ++i)
      Add(rng() % 50 == 0 ? std::nullopt : std::optional(RandomEv(rng)));
  }

  // The reference: indices of the remembered events matching q, newest first.
  std::vector<uint64_t> Reference(const EventQuery& q) const {
    std::vector<uint64_t> out;
    for (uint64_t i = std::min<uint64_t>({events_.size(), q.verified, q.before}); i-- > 0;) {
      const std::optional<Ev>& ev = events_[i];
      const bool any = !q.provider.empty() || !q.type.empty() || !q.resource_id.empty() ||
                       !q.actor.empty() || q.kind || q.from || q.to;
      if (!ev) {
        if (!any) out.push_back(i);
        continue;
      }
      if ((q.from || q.to) && !ev->at) continue;
      if (q.from && *ev->at < *q.from) continue;
      if (q.to && *ev->at >= *q.to) continue;
      if ((q.provider.empty() || q.provider == ev->provider) &&
          (q.type.empty() || q.type == ev->type) &&
          (q.resource_id.empty() || q.resource_id == ev->resource_id) &&
          (q.actor.empty() || q.actor == ev->actor) && (!q.kind || *q.kind == ev->kind)) {
        out.push_back(i);
      }
    }
    return out;
  }

  // Every page of q, concatenated; checks each page's shape.
  std::vector<uint64_t> AllPages(EventQuery q) const {
    std::vector<uint64_t> out;
    for (int pages = 0; pages < 100'000; ++pages) {
      absl::StatusOr<EventPage> page = index_->Search(q);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      EXPECT_LE(page->events.size(), std::clamp<size_t>(q.limit, 1, kMaxSearchLimit));
      for (const IndexedEvent& e : page->events) {
        EXPECT_LT(e.index, q.before);
        if (!out.empty()) {
          EXPECT_LT(e.index, out.back());
        }
        out.push_back(e.index);
        EXPECT_EQ(e.leaf_hash, HashLeaf(e.entry));
      }
      if (!page->next_before) break;
      EXPECT_LT(*page->next_before, q.before);
      q.before = *page->next_before;
    }
    return out;
  }

  std::string dir_;
  std::unique_ptr<EventIndex> index_;
  std::vector<std::optional<Ev>> events_;
};

TEST_F(EventIndexTest, EachFilterAloneMatchesTheReference) {
  AddRandom(600, 1);
  ASSERT_TRUE(index_->Sync().ok());
  std::vector<EventQuery> queries;
  for (const char* p : {"aws", "gcp", "nope"}) queries.push_back({.provider = p});
  for (const char* t : {"vm", "kms-key", "nope"}) queries.push_back({.type = t});
  for (const char* r : {"res-0", "res-11", "res-"}) queries.push_back({.resource_id = r});
  for (const char* a : {"actor-0", "actor-4", "actor"}) queries.push_back({.actor = a});
  for (int k : {1, 4, 9}) queries.push_back({.kind = k});
  queries.push_back({.from = kT0 + absl::Minutes(100)});
  queries.push_back({.to = kT0 + absl::Minutes(100)});
  queries.push_back({.from = kT0 + absl::Minutes(500), .to = kT0 + absl::Minutes(530)});
  queries.push_back({});
  for (EventQuery q : queries) {
    q.verified = UINT64_MAX;
    const std::vector<uint64_t> want = Reference(q);
    EXPECT_EQ(AllPages(q), want) << q.provider << q.type << q.resource_id << q.actor;
    q.limit = 7;
    EXPECT_EQ(AllPages(q), want) << "in pages of 7";
  }
  EXPECT_FALSE(AllPages({.verified = UINT64_MAX}).empty());
}

TEST_F(EventIndexTest, RandomCombinationsInPagesReturnEveryMatchOnce) {
  AddRandom(3000, 2);  // several zone blocks
  ASSERT_TRUE(index_->Sync().ok());
  std::mt19937_64 rng(3);
  for (int round = 0; round < 300; ++round) {
    // Entries added but not synced, beyond what the caller has verified.
    if (round == 150) AddRandom(500, 7);
    const Ev r = RandomEv(rng);
    EventQuery q;
    if (rng() % 3 == 0) q.provider = r.provider;
    if (rng() % 3 == 0) q.type = r.type;
    if (rng() % 3 == 0) q.resource_id = r.resource_id;
    if (rng() % 3 == 0) q.actor = r.actor;
    if (rng() % 3 == 0) q.kind = r.kind;
    if (rng() % 3 == 0) q.from = kT0 + absl::Minutes(static_cast<int64_t>(rng() % 1000));
    if (rng() % 3 == 0) q.to = kT0 + absl::Minutes(static_cast<int64_t>(rng() % 1000) + 1);
    if (q.from && q.to && *q.from >= *q.to) std::swap(q.from, q.to);
    if (q.from && q.to && *q.from == *q.to) q.to = std::nullopt;
    q.verified = rng() % 4 == 0 ? rng() % 3000 : 3000;
    q.limit = rng() % 2 == 0 ? 1 + rng() % 20 : 500;
    EXPECT_EQ(AllPages(q), Reference(q)) << "round " << round;
  }
}

TEST_F(EventIndexTest, WorkPerCallIsBoundedAndPagingGoesOn) {
  Reopen({.max_examined = 10});
  AddRandom(500, 4);
  ASSERT_TRUE(index_->Sync().ok());
  EventQuery q{.provider = "nope", .verified = UINT64_MAX};
  absl::StatusOr<EventPage> page = index_->Search(q);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->events.empty());
  EXPECT_EQ(page->examined, 10u);
  EXPECT_EQ(page->next_before, 490u);
  // Through 50 empty pages to the end.
  EXPECT_TRUE(AllPages(q).empty());
  q = {.provider = "aws", .kind = 2, .verified = UINT64_MAX, .limit = 3};
  EXPECT_EQ(AllPages(q), Reference(q));
}

TEST_F(EventIndexTest, VerifiedHidesNewerEntries) {
  AddRandom(100, 5);
  ASSERT_TRUE(index_->Sync().ok());
  for (uint64_t verified : {0, 1, 42, 100, 1000}) {
    EventQuery q{.verified = verified, .limit = 500};
    absl::StatusOr<EventPage> page = index_->Search(q);
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->events.size(), std::min<uint64_t>(verified, 100));
    if (verified > 0) {
      EXPECT_EQ(page->events.front().index, std::min<uint64_t>(verified, 100) - 1);
    }
    q.resource_id = "res-3";
    EXPECT_EQ(AllPages(q), Reference(q));
  }
}

TEST_F(EventIndexTest, UnparseableEntriesAreStoredButMatchNoFilter) {
  Add(Ev{.kind = 2, .provider = "aws", .resource_id = "r", .actor = "a", .at = kT0});
  Add(std::nullopt);
  ASSERT_TRUE(index_->Sync().ok());
  absl::StatusOr<std::optional<IndexedEvent>> got = index_->Get(1);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->entry, kUnparseable);
  EXPECT_EQ((*got)->leaf_hash, HashLeaf(kUnparseable));
  EXPECT_FALSE((*got)->parsed);
  got = index_->Get(0);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_TRUE((*got)->parsed);
  EXPECT_EQ((*got)->kind, 2);
  EXPECT_EQ((*got)->occurred_at, kT0);
  EXPECT_EQ(AllPages({.verified = 2}), (std::vector<uint64_t>{1, 0}));
  for (const EventQuery& q :
       {EventQuery{.provider = "", .kind = 0}, EventQuery{.from = absl::InfinitePast()},
        EventQuery{.to = absl::InfiniteFuture()}, EventQuery{.actor = "a"}}) {
    EventQuery v = q;
    v.verified = 2;
    EXPECT_EQ(AllPages(v), Reference(v));
    for (uint64_t i : AllPages(v)) EXPECT_EQ(i, 0u);
  }
  got = index_->Get(2);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
}

TEST_F(EventIndexTest, TruncateForgetsSecondaryKeysAndZones) {
  const Ev old_ev{.kind = 1, .resource_id = "old", .actor = "mallory", .at = kT0};
  const Ev new_ev{.kind = 2, .resource_id = "new", .actor = "alice", .at = kT0 + absl::Hours(5)};
  for (int i = 0; i < 3000; ++i) Add(old_ev);
  ASSERT_TRUE(index_->Sync().ok());
  for (int i = 0; i < 100; ++i) Add(old_ev);  // still buffered
  ASSERT_TRUE(index_->Truncate(2900).ok());   // written and buffered
  EXPECT_EQ(index_->next(), 2900u);
  ASSERT_TRUE(index_->Truncate(1500).ok());  // mid-zone
  EXPECT_EQ(index_->next(), 1500u);
  EXPECT_EQ(index_->Add(1501, "x", HashLeaf("x")).code(), absl::StatusCode::kFailedPrecondition);
  for (int i = 0; i < 800; ++i) Add(new_ev);
  ASSERT_TRUE(index_->Sync().ok());
  for (int reopen = 0; reopen < 2; ++reopen) {
    for (const EventQuery& q :
         {EventQuery{.resource_id = "old"}, EventQuery{.resource_id = "new"},
          EventQuery{.actor = "mallory"}, EventQuery{.kind = 2}, EventQuery{.kind = 1},
          EventQuery{.from = kT0, .to = kT0 + absl::Seconds(1)},
          EventQuery{.from = kT0 + absl::Hours(5)}, EventQuery{}}) {
      EventQuery v = q;
      v.verified = UINT64_MAX;
      v.limit = 500;
      EXPECT_EQ(AllPages(v), Reference(v)) << q.resource_id << q.actor;
    }
    EXPECT_EQ(AllPages({.resource_id = "old", .verified = UINT64_MAX}).size(), 1500u);
    EXPECT_EQ(AllPages({.resource_id = "new", .verified = UINT64_MAX}).size(), 800u);
    // The secondary keys of the entries truncated are gone, not just
    // filtered out: a search reads only the live ones.
    for (EventQuery q : {EventQuery{.resource_id = "old"}, EventQuery{.actor = "mallory"},
                         EventQuery{.kind = 1}}) {
      q.verified = UINT64_MAX;
      uint64_t examined = 0;
      for (std::optional<uint64_t> before = UINT64_MAX; before;) {
        q.before = *before;
        absl::StatusOr<EventPage> page = index_->Search(q);
        ASSERT_TRUE(page.ok());
        examined += page->examined;
        before = page->next_before;
      }
      EXPECT_EQ(examined, 1500u) << q.resource_id << q.actor;
    }
    Reopen();
    EXPECT_EQ(index_->next(), 2300u);
  }
}

TEST_F(EventIndexTest, ReopenAfterSyncKeepsEverything) {
  AddRandom(1500, 6);
  Finding f;
  f.time = kT0;
  f.severity = Severity::kAlert;
  f.rule = "r";
  f.seq = 7;
  ASSERT_TRUE(index_->AddFindings({f}).ok());
  ASSERT_TRUE(index_->Sync().ok());
  const std::vector<uint64_t> before = AllPages({.verified = UINT64_MAX, .limit = 500});
  Reopen();
  EXPECT_EQ(index_->next(), 1500u);
  EXPECT_EQ(AllPages({.verified = UINT64_MAX, .limit = 500}), before);
  EventQuery q{.from = kT0 + absl::Minutes(10), .to = kT0 + absl::Minutes(20), .verified = 1500};
  EXPECT_EQ(AllPages(q), Reference(q));
  absl::StatusOr<FindingPage> page = index_->Findings({});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->findings.size(), 1u);
  EXPECT_EQ(page->findings[0].ToJson(), f.ToJson());
  Add(Ev{});  // appends after what was there
  EXPECT_EQ(index_->next(), 1501u);
}

TEST_F(EventIndexTest, AnyBytesInIdsRoundTripAndStayApart) {
  const std::vector<std::string> ids = {"a",
                                        std::string("a\0", 2),
                                        std::string("a\0b", 3),
                                        std::string("\0", 1),
                                        "",
                                        "a\x01",
                                        "<script>alert(1)</script>&amp;",
                                        "ünïcödé/☃",
                                        "\xf0\x9f\x94\x91 key",
                                        std::string(300, 'z')};
  for (const std::string& id : ids) Add(Ev{.kind = 3, .resource_id = id, .actor = id, .at = kT0});
  ASSERT_TRUE(index_->Sync().ok());
  for (size_t i = 0; i < ids.size(); ++i) {
    absl::StatusOr<std::optional<IndexedEvent>> got = index_->Get(i);
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ((*got)->resource_id, ids[i]);
    EXPECT_EQ((*got)->actor, ids[i]);
    if (ids[i].empty()) continue;  // empty is "any"
    for (EventQuery q : {EventQuery{.resource_id = ids[i]}, EventQuery{.actor = ids[i]}}) {
      q.verified = UINT64_MAX;
      EXPECT_EQ(AllPages(q), (std::vector<uint64_t>{i})) << i;
    }
  }
}

TEST_F(EventIndexTest, IdsWhoseHashesCollideStayApart) {
  // Postings hold 32-bit hashes of the strings: find two ids that share one.
  std::map<uint32_t, std::string> seen;
  std::string a, b;
  for (int i = 0; a.empty(); ++i) {
    std::string id = absl::StrCat("id-", i);
    auto [it, fresh] = seen.emplace(event_index::FieldHash(id), id);
    if (!fresh) std::tie(a, b) = std::pair(it->second, id);
  }
  Add(Ev{.provider = a, .type = a, .resource_id = a, .actor = a});
  Add(Ev{.provider = b, .type = b, .resource_id = b, .actor = b});
  ASSERT_TRUE(index_->Sync().ok());
  for (uint64_t i : {0, 1}) {
    const std::string& id = i == 0 ? a : b;
    for (EventQuery q :
         {EventQuery{.provider = id}, EventQuery{.type = id}, EventQuery{.resource_id = id},
          EventQuery{.actor = id}, EventQuery{.provider = id, .actor = id}}) {
      q.verified = 2;
      EXPECT_EQ(AllPages(q), (std::vector<uint64_t>{i})) << id;
    }
  }
}

TEST_F(EventIndexTest, RefusalsNameTheField) {
  EXPECT_EQ(index_->Add(3, "x", HashLeaf("x")).code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<EventPage> page = index_->Search({.from = kT0, .to = kT0, .verified = UINT64_MAX});
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(page.status().message(), "from")) << page.status();
  EXPECT_EQ(index_->Findings({.from = kT0, .to = kT0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  for (absl::Duration bucket : {absl::ZeroDuration(), absl::Seconds(1)}) {
    absl::StatusOr<std::vector<SeverityCounts>> h =
        index_->FindingHistogram(kT0, kT0 + absl::Hours(24), bucket);
    ASSERT_FALSE(h.ok());
    EXPECT_TRUE(absl::StrContains(h.status().message(), "bucket")) << h.status();
  }
}

TEST_F(EventIndexTest, OpenRefusesWhatIsNotAnIndexNamingTheDirectory) {
  // Another open of the same database: RocksDB's lock.
  absl::StatusOr<std::unique_ptr<EventIndex>> twice = EventIndex::Open(dir_);
  ASSERT_FALSE(twice.ok());
  EXPECT_TRUE(absl::StrContains(twice.status().message(), dir_)) << twice.status();
  index_.reset();
  // A corrupt database.
  for (const auto& file : fs::directory_iterator(dir_)) {
    if (absl::StartsWith(file.path().filename().string(), "MANIFEST")) {
      std::ofstream(file.path(), std::ios::binary | std::ios::trunc) << "garbage";
    }
  }
  absl::StatusOr<std::unique_ptr<EventIndex>> corrupt = EventIndex::Open(dir_);
  ASSERT_FALSE(corrupt.ok());
  EXPECT_TRUE(absl::StrContains(corrupt.status().message(), dir_)) << corrupt.status();
  // Destroy, and it is rebuilt from nothing.
  ASSERT_TRUE(EventIndex::Destroy(dir_).ok());
  Reopen();
  EXPECT_EQ(index_->next(), 0u);
}

TEST_F(EventIndexTest, ATimeRangeReadsOnlyTheZonesThatMayHoldIt) {
  // One event in 100 backfilled ten days late: each block still holds
  // only the hours it has events in.
  for (int i = 0; i < 10 * 1024; ++i) {
    const absl::Time at =
        kT0 + absl::Minutes(i) - (i % 100 == 0 ? absl::Hours(240) : absl::ZeroDuration());
    Add(Ev{.kind = 1 + i % 3, .resource_id = "r", .at = at});
  }
  ASSERT_TRUE(index_->Sync().ok());
  for (EventQuery q :
       {EventQuery{.from = kT0 + absl::Minutes(3000), .to = kT0 + absl::Minutes(3100)},
        EventQuery{
            .resource_id = "r", .from = kT0 + absl::Minutes(3000), .to = kT0 + absl::Minutes(3100)},
        EventQuery{.kind = 2, .from = kT0 + absl::Minutes(100), .to = kT0 + absl::Minutes(200)}}) {
    q.verified = UINT64_MAX;
    q.limit = 500;
    absl::StatusOr<EventPage> page = index_->Search(q);
    ASSERT_TRUE(page.ok());
    EXPECT_EQ(page->events.size(), Reference(q).size());
    EXPECT_LE(page->examined, 2 * 1024u);  // not the 7,000 entries above
    EXPECT_FALSE(page->next_before.has_value());
  }
}

TEST(EventIndexZone, KeepsApartTheTimesFarthestApart) {
  event_index::Zone z;
  EXPECT_FALSE(z.MayHold(INT64_MIN, INT64_MAX));
  for (int64_t t = 1000; t < 2000; t += 10) z.Add(t);  // the bulk, joined
  z.Add(-5000);                                        // backfilled
  z.Add(INT64_MAX);
  z.Add(INT64_MIN);
  for (const auto& [lo, hi, want] : std::vector<std::tuple<int64_t, int64_t, bool>>{
           {1000, 1001, true},
           {1500, 1501, true},  // between two times of the bulk: joined
           {1991, 5000, false},
           {-4999, 1000, false},
           {-5000, -4999, true},
           {INT64_MIN, INT64_MIN + 1, true},
           {INT64_MAX - 1, INT64_MAX, false},  // [lo, hi) never holds INT64_MAX
           {-10'000, -6000, false}}) {
    EXPECT_EQ(z.MayHold(lo, hi), want) << lo << ".." << hi;
  }
  event_index::Zone back;
  ASSERT_TRUE(event_index::Zone::Decode(z.Encode(), &back));
  EXPECT_EQ(back.Encode(), z.Encode());
  EXPECT_FALSE(event_index::Zone::Decode(z.Encode() + "x", &back));
  EXPECT_FALSE(event_index::Zone::Decode(std::string(1, 9) + std::string(144, 0), &back));
  // Added in any order, merged or not: every time stays covered.
  std::mt19937_64 rng(14);
  event_index::Zone a, b;
  std::vector<int64_t> times;
  for (int i = 0; i < 500; ++i) {
    times.push_back(static_cast<int64_t>(rng() % 1'000'000) * (rng() % 2 ? 1 : -1));
    (i % 2 ? a : b).Add(times.back());
  }
  a.Merge(b);
  for (int64_t t : times) EXPECT_TRUE(a.MayHold(t, t + 1)) << t;
  ASSERT_TRUE(event_index::Zone::Decode(a.Encode(), &back));
}

TEST_F(EventIndexTest, OpenRefusesAnotherFormatNamingTheDirectory) {
  index_.reset();
  {
    rocksdb::DB* raw = nullptr;
    rocksdb::Options o;
    const std::string other = dir_ + "-other";
    o.create_if_missing = true;
    ASSERT_TRUE(rocksdb::DB::Open(o, other, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "format", "something-else/9").ok());
    ASSERT_TRUE(db->Close().ok());
    absl::StatusOr<std::unique_ptr<EventIndex>> i = EventIndex::Open(other);
    ASSERT_FALSE(i.ok());
    EXPECT_EQ(i.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_TRUE(absl::StrContains(i.status().message(), other)) << i.status();
  }
}

// --- findings ---------------------------------------------------------------

Finding RandomFinding(std::mt19937_64& rng, uint64_t seq) {
  static const char* kRules[] = {"log.fork", "access-needs-ticket", "entry.unparseable"};
  static const char* kKinds[] = {"ACCESS", "DEPLOY", ""};
  Finding f;
  f.seq = seq;
  f.time = kT0 + absl::Seconds(static_cast<int64_t>(rng() % 86'400));
  f.severity = static_cast<Severity>(rng() % 4);
  f.rule = kRules[rng() % 3];
  f.kind = kKinds[rng() % 3];
  f.resource = absl::StrCat("aws/vm/res-", rng() % 20);
  f.actor = absl::StrCat("actor-", rng() % 4);
  f.origin = "log.example/a";
  if (rng() % 2 == 0) f.index = rng() % 1000;
  f.message = absl::StrCat("finding <b>", seq, "</b>");
  return f;
}

std::vector<uint64_t> ReferenceFindings(const std::map<uint64_t, Finding>& all,
                                        const FindingQuery& q) {
  std::vector<uint64_t> out;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const Finding& f = it->second;
    if (f.seq < q.before_seq && (!q.severity || f.severity == *q.severity) &&
        (q.rule.empty() || f.rule == q.rule) && (q.kind.empty() || f.kind == q.kind) &&
        (q.resource.empty() || absl::StrContains(f.resource, q.resource)) &&
        (q.actor.empty() || f.actor == q.actor) && (!q.from || f.time >= *q.from) &&
        (!q.to || f.time < *q.to)) {
      out.push_back(f.seq);
    }
  }
  return out;
}

std::vector<uint64_t> AllFindingPages(const EventIndex& index, FindingQuery q,
                                      const std::map<uint64_t, Finding>& all) {
  std::vector<uint64_t> out;
  for (int pages = 0; pages < 10'000; ++pages) {
    absl::StatusOr<FindingPage> page = index.Findings(q);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    for (const Finding& f : page->findings) {
      out.push_back(f.seq);
      EXPECT_EQ(f.ToJson(), all.at(f.seq).ToJson());
    }
    if (!page->next_before_seq) break;
    q.before_seq = *page->next_before_seq;
  }
  return out;
}

TEST_F(EventIndexTest, FindingsFiltersAndPagesMatchTheReference) {
  std::mt19937_64 rng(8);
  std::map<uint64_t, Finding> all;
  for (uint64_t seq = 1; seq <= 400;) {
    std::vector<Finding> batch;
    for (int n = static_cast<int>(rng() % 30); n >= 0 && seq <= 400; --n, ++seq) {
      batch.push_back(RandomFinding(rng, seq));
      all[seq] = batch.back();
    }
    ASSERT_TRUE(index_->AddFindings(batch).ok());
  }
  for (int round = 0; round < 200; ++round) {
    const Finding r = RandomFinding(rng, 0);
    FindingQuery q;
    if (rng() % 3 == 0) q.severity = r.severity;
    if (rng() % 3 == 0) q.rule = r.rule;
    if (rng() % 4 == 0) q.kind = r.kind;
    if (rng() % 3 == 0) q.resource = rng() % 2 ? r.resource : "res-1";  // also res-1x
    if (rng() % 3 == 0) q.actor = r.actor;
    if (rng() % 3 == 0) q.from = r.time;
    if (rng() % 3 == 0) q.to = r.time + absl::Hours(3);
    if (rng() % 4 == 0) q.before_seq = rng() % 450;
    q.limit = rng() % 2 ? 1 + rng() % 30 : 500;
    if (round == 100) Reopen({.max_examined = 17});
    EXPECT_EQ(AllFindingPages(*index_, q, all), ReferenceFindings(all, q)) << "round " << round;
  }
}

std::vector<SeverityCounts> ReferenceHistogram(const std::map<uint64_t, Finding>& all,
                                               absl::Time from, absl::Time to,
                                               absl::Duration bucket) {
  std::vector<SeverityCounts> out;
  for (absl::Time t = from; t < to; t += bucket) out.push_back({.start = t});
  for (const auto& [seq, f] : all) {
    if (f.time < from || f.time >= to) continue;
    SeverityCounts& c = out[static_cast<size_t>((f.time - from) / bucket)];
    uint64_t* counts[] = {&c.critical, &c.alert, &c.warning, &c.notice};
    ++*counts[static_cast<int>(f.severity)];
  }
  return out;
}

void ExpectHistogram(const EventIndex& index, const std::map<uint64_t, Finding>& all,
                     absl::Time from, absl::Time to, absl::Duration bucket) {
  absl::StatusOr<std::vector<SeverityCounts>> got = index.FindingHistogram(from, to, bucket);
  ASSERT_TRUE(got.ok()) << got.status();
  const std::vector<SeverityCounts> want = ReferenceHistogram(all, from, to, bucket);
  ASSERT_EQ(got->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*got)[i].start, want[i].start) << i;
    EXPECT_EQ(std::tie((*got)[i].critical, (*got)[i].alert, (*got)[i].warning, (*got)[i].notice),
              std::tie(want[i].critical, want[i].alert, want[i].warning, want[i].notice))
        << "bucket " << i;
  }
}

TEST_F(EventIndexTest, HistogramCountsEachSeverityPerBucketAndAddingAgainChangesNothing) {
  std::mt19937_64 rng(9);
  std::map<uint64_t, Finding> all;
  std::vector<Finding> batch;
  for (uint64_t seq = 1; seq <= 500; ++seq) {
    batch.push_back(RandomFinding(rng, seq));
    all[seq] = batch.back();
  }
  ASSERT_TRUE(index_->AddFindings(batch).ok());
  ASSERT_TRUE(index_->AddFindings(batch).ok());  // idempotent
  ExpectHistogram(*index_, all, kT0, kT0 + absl::Hours(24), absl::Hours(1));
  ExpectHistogram(*index_, all, kT0 + absl::Minutes(7), kT0 + absl::Hours(5), absl::Minutes(13));
  EXPECT_EQ(AllFindingPages(*index_, {}, all).size(), 500u);
  // A seq stored again with another time and severity moves its count.
  Finding moved = all[10];
  moved.time = kT0 + absl::Hours(23) + absl::Minutes(30);
  moved.severity = moved.severity == Severity::kCritical ? Severity::kNotice : Severity::kCritical;
  all[10] = moved;
  ASSERT_TRUE(index_->AddFindings({moved, moved}).ok());
  ASSERT_TRUE(index_->Sync().ok());
  Reopen();
  ExpectHistogram(*index_, all, kT0, kT0 + absl::Hours(24), absl::Hours(1));
  EXPECT_EQ(AllFindingPages(*index_, {}, all).size(), 500u);
  // Findings beyond what the state kept are forgotten, counts included.
  ASSERT_TRUE(index_->TruncateFindings(301).ok());
  all.erase(all.upper_bound(300), all.end());
  ExpectHistogram(*index_, all, kT0, kT0 + absl::Hours(24), absl::Hours(1));
  EXPECT_EQ(AllFindingPages(*index_, {}, all), ReferenceFindings(all, {}));
  Reopen({.max_histogram_findings = 10});
  EXPECT_EQ(index_->FindingHistogram(kT0, kT0 + absl::Hours(24), absl::Hours(1)).status().code(),
            absl::StatusCode::kResourceExhausted);
}

// --- one writer, concurrent readers ---------------------------------------------

// The event a writer of generation `gen` puts at index i: every field
// follows from (gen, i), and the entry carries both, so a reader can tell an
// event from the one it replaced.
Ev GenEv(uint64_t gen, uint64_t i) {
  return Ev{.kind = static_cast<int>(1 + (i + gen) % 4),
            .provider = absl::StrCat("p", gen % 2),
            .resource_id = absl::StrCat("res-", (i * 7 + gen) % 13),
            .actor = absl::StrCat("actor-", (i + gen) % 5),
            .at = kT0 + absl::Seconds(static_cast<int64_t>(i))};
}

// Its entry, ending with an unknown varint field 15 that holds `gen`.
std::string GenEntry(uint64_t gen, uint64_t i) {
  return Entry(GenEv(gen, i)) + "\x78" + static_cast<char>(gen);
}

TEST_F(EventIndexTest, ReadersDuringWritesSeeOnlyWholeConsistentResults) {
  std::atomic<bool> done = false;
  std::atomic<uint64_t> searches = 0;
  std::thread writer([&] {
    std::mt19937_64 rng(10);
    std::vector<uint64_t> gen_of;  // generation of the entry at each index
    for (uint64_t gen = 1; gen <= 6; ++gen) {
      // Back over part of what is there, then forward with a new generation.
      const uint64_t back = index_->next() - std::min<uint64_t>(index_->next(), rng() % 2500);
      ASSERT_TRUE(index_->Truncate(back).ok());
      for (uint64_t i = back; i < back + 1500; ++i) {
        const std::string entry = GenEntry(gen, i);
        ASSERT_TRUE(index_->Add(i, entry, HashLeaf(entry)).ok());
        if (i % 97 == 0) {
          ASSERT_TRUE(index_->Sync().ok());
        }
        if (i % 211 == 0) {
          std::vector<Finding> fs;
          for (uint64_t s = i; s < i + 5; ++s) {
            Finding f;
            f.seq = s;
            f.severity = static_cast<Severity>(s % 4);
            f.time = kT0 + absl::Seconds(static_cast<int64_t>(s));
            f.rule = absl::StrCat("rule-", s % 3);
            fs.push_back(f);
          }
          ASSERT_TRUE(index_->AddFindings(fs).ok());
        }
      }
    }
    done = true;
  });
  auto reader = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (!done) {
      const Ev r = GenEv(rng() % 7, rng() % 9000);
      EventQuery q{.verified = UINT64_MAX, .limit = 1 + rng() % 100};
      if (rng() % 2) q.resource_id = r.resource_id;
      if (rng() % 2) q.actor = r.actor;
      if (rng() % 2) q.kind = r.kind;
      if (rng() % 3 == 0) q.provider = r.provider;
      if (rng() % 3 == 0) q.from = *r.at;
      if (rng() % 3 == 0) q.to = *r.at + absl::Seconds(500);
      if (q.from && q.to && *q.from >= *q.to) q.to = std::nullopt;
      absl::StatusOr<EventPage> page = index_->Search(q);
      ASSERT_TRUE(page.ok()) << page.status();
      ASSERT_LE(page->events.size(), q.limit);
      for (size_t k = 0; k < page->events.size(); ++k) {
        const IndexedEvent& e = page->events[k];
        if (k > 0) {
          ASSERT_LT(e.index, page->events[k - 1].index);
        }
        ASSERT_EQ(e.leaf_hash, HashLeaf(e.entry));
        // The entry is whole and is the one of its own index.
        ASSERT_GE(e.entry.size(), 3u);
        const uint64_t gen = static_cast<uint8_t>(e.entry.back());
        ASSERT_EQ(e.entry, GenEntry(gen, e.index));
        const Ev want = GenEv(gen, e.index);
        ASSERT_TRUE(e.parsed);
        ASSERT_EQ(std::tie(e.kind, e.provider, e.resource_id, e.actor),
                  std::tie(want.kind, want.provider, want.resource_id, want.actor));
        ASSERT_EQ(e.occurred_at, want.at);
        // And it matches the query.
        ASSERT_TRUE(q.resource_id.empty() || q.resource_id == e.resource_id);
        ASSERT_TRUE(q.actor.empty() || q.actor == e.actor);
        ASSERT_TRUE(!q.kind || *q.kind == e.kind);
        ASSERT_TRUE(q.provider.empty() || q.provider == e.provider);
        ASSERT_TRUE(!q.from || *e.occurred_at >= *q.from);
        ASSERT_TRUE(!q.to || *e.occurred_at < *q.to);
      }
      absl::StatusOr<FindingPage> fp = index_->Findings({.rule = "rule-1", .limit = 20});
      ASSERT_TRUE(fp.ok()) << fp.status();
      for (const Finding& f : fp->findings) {
        ASSERT_EQ(f.rule, "rule-1");
        ASSERT_EQ(f.time, kT0 + absl::Seconds(static_cast<int64_t>(f.seq)));
      }
      ++searches;
    }
  };
  std::thread r1(reader, 11), r2(reader, 12), r3(reader, 13);
  writer.join();
  r1.join();
  r2.join();
  r3.join();
  EXPECT_GT(searches.load(), 10u);
  std::printf("%lu searches during the writes\n", static_cast<unsigned long>(searches.load()));
}

}  // namespace
}  // namespace infratrail
