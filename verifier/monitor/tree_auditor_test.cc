#include "verifier/monitor/tree_auditor.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/checkpoint.h"
#include "core/compact_range.h"
#include "core/cosignature.h"
#include "core/note.h"
#include "core/proof.h"
#include "core/tlog_policy.h"
#include "core/witness_policy.h"

namespace infratrail {
namespace {

constexpr char kOrigin[] = "monitor.test/log";

// A tlog-tiles log in memory, computed from its entries, with hooks to make
// it lie or fail.
class FakeLog final : public LogSource {
 public:
  explicit FakeLog(const NoteSigner& signer) : signer_(signer) {}

  void Append(int n, const std::string& tag = "e") {
    for (int i = 0; i < n; ++i) {
      entries_.push_back(absl::StrCat(tag, "-", entries_.size()));
    }
  }
  std::vector<std::string>& entries() { return entries_; }

  std::string Sign(uint64_t size) {
    CompactRange r;
    Hasher h;
    for (uint64_t i = 0; i < size; ++i) r.AppendLeaf(h.HashLeaf(entries_[i]), h);
    infratrail::Checkpoint cp;
    cp.origin = kOrigin;
    cp.size = size;
    cp.root = *r.Root(h);
    return *SignNote(cp.Body(), {signer_});
  }
  // Serves a checkpoint of the first `size` entries.
  void Publish(uint64_t size) {
    size_ = size;
    checkpoint_ = Sign(size);
  }

  absl::StatusOr<std::string> Checkpoint(bool bypass_caches) override {
    ++checkpoint_reads;
    if (!bypass_caches && stale_checkpoint.has_value()) return *stale_checkpoint;
    if (checkpoint_error.has_value()) return *checkpoint_error;
    if (checkpoint_override.has_value()) return *checkpoint_override;
    return checkpoint_;
  }

  std::vector<absl::StatusOr<std::string>> Tiles(absl::Span<const TileId> tiles) override {
    std::vector<absl::StatusOr<std::string>> out;
    int bundles = 0;
    for (const TileId& t : tiles) bundles += t.entries ? 1 : 0;
    bundles_per_call.push_back(bundles);
    for (const TileId& t : tiles) {
      const std::string path = t.Path();
      requests.push_back(path);
      if (fail_after.has_value() && requests.size() > *fail_after) {
        out.push_back(absl::UnavailableError("injected"));
      } else if (auto it = overrides.find(path); it != overrides.end()) {
        out.push_back(it->second);
      } else {
        out.push_back(Serve(t));
      }
    }
    return out;
  }
  std::string Describe() const override { return "fake"; }
  bool ServesHashTiles() const override { return hash_tiles; }
  // The honest proof, computed from the entries (like the gRPC API's).
  absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t from, uint64_t to) override {
    ++proof_reads;
    if (proof_error.has_value()) return *proof_error;
    absl::StatusOr<ProofPlan> plan = PlanConsistency(from, to);
    if (!plan.ok()) return plan.status();
    Hasher h;
    std::vector<Hash> nodes;
    for (const NodeId& n : plan->nodes) {
      CompactRange r(n.index << n.level);
      for (uint64_t j = n.index << n.level; j < (n.index + 1) << n.level; ++j)
        r.AppendLeaf(h.HashLeaf(entries_[j]), h);
      nodes.push_back(r.hashes().front());
    }
    return plan->Rehash(nodes, h);
  }

  std::string Serve(const TileId& t) {
    Hasher h;
    if (t.entries) {
      std::vector<std::string> es(entries_.begin() + t.index * kTileWidth,
                                  entries_.begin() + t.index * kTileWidth + t.width);
      return *EncodeEntryBundle(es);
    }
    // Nodes at level 8L of the tree of size_ (recomputed from the leaves).
    std::vector<Hash> row;
    const uint32_t level = t.level * kTileHeight;
    for (uint64_t i = t.index * kTileWidth; i < t.index * kTileWidth + t.width; ++i) {
      CompactRange r(i << level);
      for (uint64_t j = i << level; j < (i + 1) << level; ++j)
        r.AppendLeaf(h.HashLeaf(entries_[j]), h);
      row.push_back(r.hashes().front());
    }
    return EncodeHashTile(row);
  }

  std::optional<std::string> stale_checkpoint;
  std::optional<absl::Status> checkpoint_error;
  std::optional<std::string> checkpoint_override;
  std::map<std::string, absl::StatusOr<std::string>> overrides;
  std::optional<size_t> fail_after;
  std::vector<std::string> requests;
  std::vector<int> bundles_per_call;
  int checkpoint_reads = 0;
  // false: a source like the gRPC API (bundles and proofs, no hash tiles).
  bool hash_tiles = true;
  std::optional<absl::Status> proof_error;
  int proof_reads = 0;

 private:
  NoteSigner signer_;
  std::vector<std::string> entries_;
  uint64_t size_ = 0;
  std::string checkpoint_;
};

// Keeps what was committed, as the state dir would.
class Recorder final : public AuditObserver {
 public:
  absl::Status Commit(const AuditState& state, std::vector<Finding> findings) override {
    ++commits;
    committed = state;
    for (Finding& f : findings) this->findings.push_back(std::move(f));
    return absl::OkStatus();
  }
  int commits = 0;
  AuditState committed;
  std::vector<Finding> findings;
};

class TreeAuditorTest : public ::testing::Test {
 protected:
  TreeAuditorTest() : signer_(*NoteSigner::Generate(kOrigin)), log_(signer_) {}

  AuditorOptions Options() {
    AuditorOptions o;
    o.log_key = *NoteVerifier::Parse(signer_.VerifierKey());
    o.witnesses = witnesses_;
    o.bundles_per_batch = 2;
    o.on_entry = [this](uint64_t index, absl::string_view, const Hash&,
                        std::vector<Finding>* findings) {
      if (fail_entry_ == index) return absl::UnavailableError("clone unreadable");
      seen_.push_back(index);
      if (flag_every_ != 0 && index % flag_every_ == 0) {
        Finding f;
        f.severity = Severity::kAlert;
        f.rule = "entry.flagged";
        f.index = index;
        findings->push_back(std::move(f));
      }
      return absl::OkStatus();
    };
    return o;
  }
  RoundResult Round(FakeLog* log = nullptr) {
    TreeAuditor a(Options());
    return a.Round(&state_, log == nullptr ? &log_ : log, &rec_);
  }
  std::vector<std::string> Rules() {
    std::vector<std::string> r;
    for (const Finding& f : rec_.findings) r.push_back(f.rule);
    return r;
  }
  uint64_t TrustedSize() {
    if (state_.trusted_note.empty()) return 0;
    return Checkpoint::Parse(ParseNote(state_.trusted_note)->text)->size;
  }

  NoteSigner signer_;
  FakeLog log_;
  AuditState state_;
  Recorder rec_;
  std::vector<uint64_t> seen_;
  // on_entry fails on this entry (an event that cannot be evaluated).
  std::optional<uint64_t> fail_entry_;
  // on_entry raises an entry finding on every multiple of this (0: none).
  uint64_t flag_every_ = 0;
  WitnessPolicy witnesses_;
};

// A checkpoint without the witness quorum is checked against the trusted
// one but never trusted: a WARNING once per checkpoint, not a lie.
class WitnessedTreeAuditorTest : public TreeAuditorTest {
 protected:
  WitnessedTreeAuditorTest() {
    witnesses_ =
        WitnessPolicy::FromTlogPolicy(std::make_shared<const TlogPolicy>(*TlogPolicy::Parse(
            absl::StrCat("witness W1 ", witness_.CosignatureVerifierKey(), "\nquorum W1\n"),
            "policy")));
  }
  // The log's checkpoint of `size`, cosigned by W1.
  std::string Witnessed(FakeLog& log, uint64_t size) {
    const std::string note = log.Sign(size);
    const std::string body = ParseNote(note)->text;
    return *AddSignatures(note, {*Cosign(witness_, body, 1763800000)});
  }
  NoteSigner witness_ = *NoteSigner::Generate("w1.example/witness");
};

TEST_F(WitnessedTreeAuditorTest, UnwitnessedCheckpointIsAWarningOnceAndNotTrusted) {
  log_.Append(300);
  log_.checkpoint_override = Witnessed(log_, 300);
  ASSERT_TRUE(Round().complete);
  EXPECT_EQ(TrustedSize(), 300u);
  log_.Append(200);
  log_.Publish(500);  // log-signed only (as under --witness-fail-open)
  log_.checkpoint_override.reset();
  RoundResult r = Round();
  EXPECT_TRUE(r.complete);
  EXPECT_TRUE(r.unwitnessed);
  EXPECT_EQ(r.critical + r.alert, 0u);
  EXPECT_EQ(r.warning, 1u);
  EXPECT_EQ(Rules(), std::vector<std::string>{"checkpoint.unwitnessed"});
  EXPECT_NE(rec_.findings[0].message.find("lacks the witness quorum"), std::string::npos);
  EXPECT_EQ(TrustedSize(), 300u);
  EXPECT_EQ(seen_.size(), 300u);  // its entries were not audited
  // The same checkpoint again: not reported again.
  r = Round();
  EXPECT_EQ(r.warning + r.known, 0u);
  EXPECT_EQ(rec_.findings.size(), 1u);
  // Witnessed at last: trusted and audited.
  log_.checkpoint_override = Witnessed(log_, 500);
  r = Round();
  EXPECT_TRUE(r.complete);
  EXPECT_FALSE(r.unwitnessed);
  EXPECT_EQ(TrustedSize(), 500u);
  EXPECT_EQ(seen_.size(), 500u);
}

TEST_F(WitnessedTreeAuditorTest, UnwitnessedCheckpointOfAnotherHistoryIsStillInconsistent) {
  log_.Append(300);
  log_.checkpoint_override = Witnessed(log_, 300);
  ASSERT_TRUE(Round().complete);
  FakeLog other(signer_);
  other.Append(300, "other");
  other.Append(200);
  other.Publish(500);
  RoundResult r = Round(&other);
  EXPECT_EQ(r.critical, 1u);
  EXPECT_EQ(Rules(), std::vector<std::string>{"log.inconsistent"});
  EXPECT_EQ(TrustedSize(), 300u);
}

TEST_F(TreeAuditorTest, AnEntryThatCannotBeEvaluatedEndsTheRoundAtTheLastCommit) {
  log_.Append(1000);
  log_.Publish(1000);
  flag_every_ = 100;
  fail_entry_ = 700;
  RoundResult r = Round();
  EXPECT_FALSE(r.complete);
  ASSERT_EQ(r.operational.size(), 1u);
  EXPECT_EQ(r.operational[0].kind, "policy");
  EXPECT_NE(r.operational[0].message.find("entry 700"), std::string::npos);
  // Nothing of the unfinished batch was committed: not its position, not
  // its findings.
  EXPECT_EQ(state_.next, rec_.commits == 0 ? 0u : rec_.committed.next);
  EXPECT_LE(state_.next, 700u);
  const uint64_t resumed = state_.next;
  for (const Finding& f : rec_.findings) EXPECT_LT(*f.index, resumed);

  fail_entry_.reset();
  seen_.clear();
  r = Round();
  EXPECT_TRUE(r.complete);
  ASSERT_FALSE(seen_.empty());
  EXPECT_EQ(seen_.front(), resumed);  // handed over again
  std::vector<uint64_t> flagged;
  for (const Finding& f : rec_.findings) flagged.push_back(*f.index);
  EXPECT_EQ(flagged, (std::vector<uint64_t>{0, 100, 200, 300, 400, 500, 600, 700, 800, 900}));
}

TEST_F(TreeAuditorTest, EntryFindingsPastTheTrustedSizeOfALyingCheckpointAreDropped) {
  log_.Append(1000);
  log_.Publish(1000);
  ASSERT_TRUE(Round().complete);
  log_.Append(600);
  log_.Publish(1600);
  std::vector<std::string> es(log_.entries().begin() + 1280, log_.entries().begin() + 1536);
  es[3] = "tampered";
  log_.overrides["tile/entries/005"] = *EncodeEntryBundle(es);
  flag_every_ = 100;
  Round();
  // Entries 1000..1599 came with a checkpoint whose tiles do not match
  // them: only the lie is reported.
  std::vector<std::string> rules = Rules();
  EXPECT_EQ(std::count(rules.begin(), rules.end(), "entry.flagged"), 0);
  EXPECT_EQ(TrustedSize(), 1000u);
  log_.overrides.clear();
  ASSERT_TRUE(Round().complete);
  std::vector<uint64_t> flagged;
  for (const Finding& f : rec_.findings) {
    if (f.rule == "entry.flagged") flagged.push_back(*f.index);
  }
  EXPECT_EQ(flagged, (std::vector<uint64_t>{1000, 1100, 1200, 1300, 1400, 1500}));
}

TEST_F(TreeAuditorTest, AuditsEveryEntryOnceAndTrustsTheCheckpoint) {
  log_.Append(1000);
  log_.Publish(1000);
  RoundResult r = Round();
  EXPECT_TRUE(r.complete);
  EXPECT_TRUE(r.operational.empty()) << r.operational[0].message;
  EXPECT_EQ(r.entries, 1000u);
  EXPECT_EQ(r.verified_size, 1000u);
  EXPECT_EQ(TrustedSize(), 1000u);
  EXPECT_TRUE(rec_.findings.empty());
  ASSERT_EQ(seen_.size(), 1000u);
  for (uint64_t i = 0; i < seen_.size(); ++i) ASSERT_EQ(seen_[i], i);
  // The partial level-1 tile (3 hashes of level 8) was checked too.
  EXPECT_NE(std::find(log_.requests.begin(), log_.requests.end(), "tile/1/000.p/3"),
            log_.requests.end());
  EXPECT_EQ(rec_.committed.next, 1000u);
}

TEST_F(TreeAuditorTest, NextRoundReadsOnlyTheNewBundles) {
  log_.Append(1000);
  log_.Publish(1000);
  ASSERT_TRUE(Round().complete);
  log_.requests.clear();
  log_.Append(600);
  log_.Publish(1600);
  RoundResult r = Round();
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.entries, 600u);
  EXPECT_EQ(TrustedSize(), 1600u);
  std::vector<std::string> bundles;
  for (const std::string& p : log_.requests) {
    if (absl::StartsWith(p, "tile/entries/")) bundles.push_back(p);
  }
  // Bundle 3 held entries 768..999 and now 768..1023; 4, 5 are new, 6 partial.
  EXPECT_EQ(bundles, (std::vector<std::string>{"tile/entries/003", "tile/entries/004",
                                               "tile/entries/005", "tile/entries/006.p/64"}));
  EXPECT_TRUE(rec_.findings.empty());
  EXPECT_EQ(seen_.size(), 1600u);
}

TEST_F(TreeAuditorTest, SameSizeOtherRootIsAForkReportedOnce) {
  log_.Append(700);
  log_.Publish(700);
  ASSERT_TRUE(Round().complete);
  FakeLog other(signer_);
  other.Append(700, "other");
  other.Publish(700);
  RoundResult r = Round(&other);
  EXPECT_EQ(r.critical, 1u);
  EXPECT_EQ(Rules(), std::vector<std::string>{"log.fork"});
  ASSERT_EQ(rec_.findings[0].evidence_files.size(), 3u);  // both checkpoints, README
  EXPECT_EQ(TrustedSize(), 700u);
  // Seen again: not reported again, but the round is not clean either.
  r = Round(&other);
  EXPECT_EQ(r.critical, 0u);
  EXPECT_EQ(r.known, 1u);
  EXPECT_EQ(rec_.findings.size(), 1u);
}

TEST_F(TreeAuditorTest, LargerCheckpointOfAnotherHistoryIsInconsistent) {
  log_.Append(700);
  log_.Publish(700);
  ASSERT_TRUE(Round().complete);
  FakeLog other(signer_);
  other.Append(700, "other");
  other.Append(300);
  other.Publish(1000);
  other.fail_after = 0;  // not even the entries are needed to see it
  other.fail_after.reset();
  RoundResult r = Round(&other);
  EXPECT_EQ(Rules(), std::vector<std::string>{"log.inconsistent"});
  EXPECT_EQ(TrustedSize(), 700u);
  EXPECT_EQ(state_.next, 700u);
  // No entry of the other history was audited.
  EXPECT_EQ(seen_.size(), 700u);
}

TEST_F(TreeAuditorTest, ForkIsCaughtEvenWhenNoBundleCanBeRead) {
  log_.Append(700);
  log_.Publish(700);
  ASSERT_TRUE(Round().complete);
  FakeLog other(signer_);
  other.Append(700, "other");
  other.Append(300);
  other.Publish(1000);
  for (uint64_t b = 0; b < 4; ++b) {
    other
        .overrides[TileId{.level = 0, .index = b, .width = TileWidthAt(0, b, 1000), .entries = true}
                       .Path()] = absl::UnavailableError("bundles down");
  }
  Round(&other);
  EXPECT_EQ(Rules(), std::vector<std::string>{"log.inconsistent"});
}

TEST_F(TreeAuditorTest, SmallerCheckpointIsARollbackUnlessACacheWasStale) {
  log_.Append(1000);
  log_.Publish(500);
  const std::string old = log_.Sign(500);
  ASSERT_TRUE(Round().complete);
  log_.Publish(1000);
  ASSERT_TRUE(Round().complete);
  // A cache serves the old one; a fresh read gets the current one.
  log_.stale_checkpoint = old;
  RoundResult r = Round();
  EXPECT_TRUE(r.complete);
  EXPECT_TRUE(rec_.findings.empty());
  // The log itself serves it.
  log_.stale_checkpoint.reset();
  log_.checkpoint_override = old;
  r = Round();
  EXPECT_EQ(Rules(), std::vector<std::string>{"log.rollback"});
  EXPECT_EQ(TrustedSize(), 1000u);
}

TEST_F(TreeAuditorTest, TamperedBundleIsCaught) {
  log_.Append(1000);
  log_.Publish(1000);
  std::vector<std::string> es(log_.entries().begin() + 512, log_.entries().begin() + 768);
  es[7] = "tampered";
  log_.overrides["tile/entries/002"] = *EncodeEntryBundle(es);
  RoundResult r = Round();
  EXPECT_EQ(r.critical, 1u);
  EXPECT_EQ(Rules(), std::vector<std::string>{"log.tile_mismatch"});
  EXPECT_EQ(TrustedSize(), 0u);
  EXPECT_EQ(state_.next, 0u);  // back to the trusted position
}

TEST_F(TreeAuditorTest, TamperedHashTilesAreCaught) {
  log_.Append(1000);
  log_.Publish(1000);
  for (const char* path : {"tile/0/001", "tile/1/000.p/3"}) {
    SCOPED_TRACE(path);
    state_ = AuditState();
    rec_.findings.clear();
    log_.overrides.clear();
    absl::StatusOr<TileId> t = ParseTilePath(path);
    std::string body = log_.Serve(*t);
    body[40] ^= 1;
    log_.overrides[path] = body;
    Round();
    EXPECT_EQ(Rules(), std::vector<std::string>{"log.tile_mismatch"});
    EXPECT_EQ(TrustedSize(), 0u);
  }
}

TEST_F(TreeAuditorTest, EntriesChangedAfterTheyWereAuditedAreCaught) {
  log_.Append(1000);
  log_.Publish(1000);
  ASSERT_TRUE(Round().complete);
  log_.Append(100);
  log_.Publish(1100);
  // Tiles and checkpoint stay honest; the re-served bundle 3 rewrites
  // entry 900, which the monitor hashed in the previous round.
  std::vector<std::string> es(log_.entries().begin() + 768, log_.entries().begin() + 1024);
  es[900 - 768] = "rewritten";
  log_.overrides["tile/entries/003"] = *EncodeEntryBundle(es);
  Round();
  ASSERT_EQ(Rules(), std::vector<std::string>{"log.entries_changed"});
  EXPECT_EQ(TrustedSize(), 1000u);
  EXPECT_EQ(state_.next, 1000u);
}

TEST_F(TreeAuditorTest, HistoryRewrittenBeforeTheNextCheckpointIsInconsistent) {
  log_.Append(1000);
  log_.Publish(1000);
  ASSERT_TRUE(Round().complete);
  log_.entries()[900] = "rewritten";
  log_.Append(100);
  log_.Publish(1100);
  Round();
  EXPECT_EQ(Rules(), std::vector<std::string>{"log.inconsistent"});
}

TEST_F(TreeAuditorTest, BadSignatureByTheLogKeyIsCriticalJunkIsOperational) {
  log_.Append(10);
  log_.Publish(10);
  std::string note = log_.Sign(10);
  const size_t sig = note.rfind(' ') + 10;
  note[sig] = note[sig] == 'A' ? 'B' : 'A';
  log_.checkpoint_override = note;
  RoundResult r = Round();
  EXPECT_EQ(Rules(), std::vector<std::string>{"log.bad_signature"});
  EXPECT_FALSE(r.operational.size() > 0);

  rec_.findings.clear();
  log_.checkpoint_override = "<html>502 Bad Gateway</html>";
  r = Round();
  EXPECT_TRUE(rec_.findings.empty());
  ASSERT_EQ(r.operational.size(), 1u);
  EXPECT_EQ(r.operational[0].kind, "malformed");
  EXPECT_FALSE(r.complete);
}

TEST_F(TreeAuditorTest, UnreachableLogIsOperationalOnly) {
  log_.Append(10);
  log_.Publish(10);
  log_.checkpoint_error = absl::DeadlineExceededError("slow");
  RoundResult r = Round();
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.critical + r.alert + r.warning, 0u);
  ASSERT_EQ(r.operational.size(), 1u);
  EXPECT_EQ(r.operational[0].kind, "timeout");
}

TEST_F(TreeAuditorTest, BundleOfTheWrongLengthIsOperational) {
  log_.Append(300);
  log_.Publish(300);
  std::vector<std::string> es(log_.entries().begin(), log_.entries().begin() + 255);
  log_.overrides["tile/entries/000"] = *EncodeEntryBundle(es);
  RoundResult r = Round();
  EXPECT_FALSE(r.complete);
  EXPECT_TRUE(rec_.findings.empty());
  ASSERT_EQ(r.operational.size(), 1u);
  EXPECT_EQ(r.operational[0].kind, "malformed");
  EXPECT_EQ(TrustedSize(), 0u);
}

TEST_F(TreeAuditorTest, ResumesFromTheLastCommitWithoutSkippingOrRepeating) {
  log_.Append(3000);
  log_.Publish(3000);
  AuditorOptions o = Options();
  o.commit_every = 256;
  // Fails part-way, several times: each "restart" starts from what was
  // committed, as the monitor does after a crash.
  std::vector<uint64_t> audited;  // indices as committed
  for (size_t fail : {9u, 15u, 4u}) {
    log_.fail_after = log_.requests.size() + fail;
    AuditState s = rec_.committed;
    TreeAuditor a(o);
    RoundResult r = a.Round(&s, &log_, &rec_);
    EXPECT_FALSE(r.complete);
  }
  log_.fail_after.reset();
  AuditState s = rec_.committed;
  const uint64_t resumed_at = s.next;
  EXPECT_GT(resumed_at, 0u);
  seen_.clear();
  TreeAuditor a(o);
  RoundResult r = a.Round(&s, &log_, &rec_);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.verified_size, 3000u);
  ASSERT_EQ(seen_.size(), 3000 - resumed_at);
  EXPECT_EQ(seen_.front(), resumed_at);
  EXPECT_TRUE(rec_.findings.empty());
}

TEST_F(TreeAuditorTest, BatchesOfLargeBundlesStayWithinTheMemoryBudget) {
  for (int i = 0; i < 40 * 256; ++i) {
    log_.entries().push_back(absl::StrCat(i, std::string(1000, 'x')));
  }
  log_.Publish(log_.entries().size());
  AuditorOptions o = Options();
  o.bundles_per_batch = 64;
  o.batch_budget_bytes = 1 << 20;  // two batches of ~257 KB bundles: 2 per batch
  TreeAuditor a(o);
  RoundResult r = a.Round(&state_, &log_, &rec_);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.entries, 40u * 256);
  ASSERT_GE(log_.bundles_per_call.size(), 3u);
  EXPECT_EQ(log_.bundles_per_call[0], 4);  // the first batch, before any size is known
  for (size_t i = 1; i < log_.bundles_per_call.size(); ++i) {
    EXPECT_LE(log_.bundles_per_call[i], 2) << "call " << i;
  }

  // Small entries: batches double (4, 8, 16, ...) up to bundles_per_batch.
  FakeLog small(signer_);
  small.Append(40 * 256);
  small.Publish(40 * 256);
  AuditState s;
  TreeAuditor b(o);
  b.Round(&s, &small, &rec_);
  EXPECT_EQ(*std::max_element(small.bundles_per_call.begin(), small.bundles_per_call.end()), 16);
}

}  // namespace
}  // namespace infratrail

namespace infratrail {
namespace {

// A source without hash tiles (the gRPC API): no tile is asked for, the
// entries and the signed root are still checked, and consistency is proven
// with the proof the source serves.
TEST_F(TreeAuditorTest, WithoutHashTilesTheEntriesAndRootAreStillChecked) {
  log_.hash_tiles = false;
  log_.Append(1000);
  log_.Publish(1000);
  RoundResult r = Round();
  EXPECT_TRUE(r.complete);
  EXPECT_TRUE(rec_.findings.empty());
  EXPECT_EQ(TrustedSize(), 1000u);
  for (const std::string& p : log_.requests) {
    EXPECT_TRUE(absl::StartsWith(p, "tile/entries/")) << p;
  }
  EXPECT_EQ(log_.proof_reads, 0);  // nothing to prove from the empty tree

  // More entries: the served proof is checked, and one changed entry in
  // the new bundles is a root mismatch (no tile to compare it with).
  log_.Append(600);
  log_.Publish(1600);
  std::vector<std::string> es(log_.entries().begin() + 1280, log_.entries().begin() + 1536);
  es[3] = "tampered";
  log_.overrides["tile/entries/005"] = *EncodeEntryBundle(es);
  r = Round();
  EXPECT_EQ(log_.proof_reads, 1);
  EXPECT_EQ(Rules(), std::vector<std::string>{"log.root_mismatch"});
  EXPECT_EQ(TrustedSize(), 1000u);
  EXPECT_EQ(state_.next, 1000u);
  log_.overrides.clear();
  r = Round();
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(TrustedSize(), 1600u);
  EXPECT_EQ(rec_.findings.size(), 1u);
}

TEST_F(TreeAuditorTest, WithoutHashTilesAForkIsCaughtByTheServedProof) {
  log_.hash_tiles = false;
  log_.Append(700);
  log_.Publish(700);
  ASSERT_TRUE(Round().complete);
  FakeLog other(signer_);
  other.hash_tiles = false;
  other.Append(700, "other");
  other.Append(300);
  other.Publish(1000);
  other.fail_after = 0;  // no bundle can be read: the proof alone shows it
  RoundResult r = Round(&other);
  EXPECT_EQ(r.critical, 1u);
  EXPECT_EQ(Rules(), std::vector<std::string>{"log.inconsistent"});
  ASSERT_EQ(rec_.findings.size(), 1u);
  bool proof = false;
  for (const EvidenceFile& e : rec_.findings[0].evidence_files)
    proof |= e.name == "consistency.proof";
  EXPECT_TRUE(proof);
  EXPECT_TRUE(other.requests.empty());
  EXPECT_EQ(TrustedSize(), 700u);
}

TEST_F(TreeAuditorTest, WithoutHashTilesAProofThatCannotBeReadIsOperational) {
  log_.hash_tiles = false;
  log_.Append(700);
  log_.Publish(700);
  ASSERT_TRUE(Round().complete);
  log_.Append(300);
  log_.Publish(1000);
  log_.proof_error = absl::UnavailableError("down");
  RoundResult r = Round();
  EXPECT_FALSE(r.complete);
  ASSERT_EQ(r.operational.size(), 1u);
  EXPECT_EQ(r.operational[0].kind, "unreachable");
  EXPECT_TRUE(rec_.findings.empty());
  EXPECT_EQ(TrustedSize(), 700u);
}

}  // namespace
}  // namespace infratrail

namespace infratrail {
namespace {

// A full tile of level 1 (65,536 entries) is fetched once, with the bundle
// that completes it, whatever the round's starting point, and checked.
TEST_F(TreeAuditorTest, FullUpperTilesAreFetchedWithTheBundleThatCompletesThem) {
  log_.Append(70'000);
  log_.Publish(70'000);
  RoundResult r = Round();
  EXPECT_TRUE(r.complete);
  EXPECT_TRUE(r.operational.empty()) << r.operational[0].message;
  EXPECT_TRUE(rec_.findings.empty());
  EXPECT_EQ(std::count(log_.requests.begin(), log_.requests.end(), "tile/1/000"), 1);
  EXPECT_EQ(std::count(log_.requests.begin(), log_.requests.end(), "tile/1/001.p/17"), 1);

  // From a position inside the tile (and inside a bundle): the same.
  state_ = AuditState();
  log_.Publish(65'000);
  ASSERT_TRUE(Round().complete);
  log_.Publish(70'000);
  r = Round();
  EXPECT_TRUE(r.complete);
  EXPECT_TRUE(r.operational.empty()) << r.operational[0].message;
  EXPECT_TRUE(rec_.findings.empty());
  EXPECT_EQ(TrustedSize(), 70'000u);

  // The same tile served wrong is caught.
  state_ = AuditState();
  std::string body = log_.Serve(*ParseTilePath("tile/1/000"));
  body[100] ^= 1;
  log_.overrides["tile/1/000"] = body;
  Round();
  EXPECT_EQ(Rules(), std::vector<std::string>{"log.tile_mismatch"});
  EXPECT_EQ(TrustedSize(), 0u);
}

}  // namespace
}  // namespace infratrail
