#include "core/tlog_proof.h"

#include "core/compact_range.h"
#include "core/cosignature.h"
#include "core/proof.h"
#include "gtest/gtest.h"

namespace infratrail {
namespace {

class TlogProofTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 21; ++i) {
      leaves_.push_back(h_.HashLeaf("event " + std::to_string(i)));
      range_.AppendLeaf(leaves_.back(), h_, [&](NodeId id, const Hash& x) { nodes_[id] = x; });
    }
    Checkpoint cp{log_.name(), 21, *range_.Root(h_), {}};
    std::string note = *SignNote(cp.Body(), {log_});
    std::vector<NoteSignature> cosigs;
    for (const NoteSigner& w : witnesses_) cosigs.push_back(*Cosign(w, cp.Body(), 1763800000));
    note_ = *AddSignatures(note, cosigs);
  }

  TlogProof Receipt(uint64_t index) {
    ProofPlan plan = *PlanInclusion(index, 21);
    std::vector<Hash> fetched;
    for (const NodeId& id : plan.nodes) fetched.push_back(nodes_.at(id));
    return TlogProof{std::nullopt, index, *plan.Rehash(fetched, h_), note_};
  }

  WitnessPolicy Policy(size_t threshold) {
    std::vector<NoteVerifier> ws;
    for (const NoteSigner& w : witnesses_) ws.push_back(*NoteVerifier::Parse(w.VerifierKey()));
    return *WitnessPolicy::Create(ws, threshold);
  }

  Hasher h_;
  NoteSigner log_ = *NoteSigner::FromSeed("infratrail.example/log", std::string(32, 'L'));
  std::vector<NoteSigner> witnesses_ = {*NoteSigner::FromSeed("w1.example", std::string(32, '1')),
                                        *NoteSigner::FromSeed("w2.example", std::string(32, '2'))};
  NoteVerifier log_v_ = *NoteVerifier::Parse(log_.VerifierKey());
  std::vector<Hash> leaves_;
  CompactRange range_;
  std::map<NodeId, Hash> nodes_;
  std::string note_;
};

TEST_F(TlogProofTest, FormatParseRoundTrip) {
  TlogProof p = Receipt(5);
  p.extra = "context bytes";
  const std::string text = p.Format();
  EXPECT_EQ(text.rfind("c2sp.org/tlog-proof@v1\nextra Y29udGV4dCBieXRlcw==\nindex 5\n", 0), 0u);
  absl::StatusOr<TlogProof> back = TlogProof::Parse(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->index, 5u);
  EXPECT_EQ(back->extra, p.extra);
  EXPECT_EQ(back->inclusion_proof, p.inclusion_proof);
  EXPECT_EQ(back->checkpoint, note_);
}

TEST_F(TlogProofTest, ParsesUpToTheLongestInclusionProofAndNoLonger) {
  TlogProof p = Receipt(5);
  p.inclusion_proof.assign(kMaxInclusionProofHashes, leaves_[0]);
  absl::StatusOr<TlogProof> longest = TlogProof::Parse(p.Format());
  ASSERT_TRUE(longest.ok()) << longest.status();
  EXPECT_EQ(longest->inclusion_proof.size(), kMaxInclusionProofHashes);
  p.inclusion_proof.push_back(leaves_[0]);
  absl::StatusOr<TlogProof> over = TlogProof::Parse(p.Format());
  EXPECT_EQ(over.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(over.status().message().find("more than 64 proof hashes"), absl::string_view::npos)
      << over.status();
}

TEST_F(TlogProofTest, VerifiesEveryIndexUnderKOfNPolicy) {
  for (uint64_t i = 0; i < 21; ++i) {
    absl::StatusOr<TlogProof> p = TlogProof::Parse(Receipt(i).Format());
    ASSERT_TRUE(p.ok());
    absl::StatusOr<VerifiedCheckpoint> v = VerifyTlogProof(*p, leaves_[i], log_v_, Policy(2));
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->witness_count, 2u);
  }
}

TEST_F(TlogProofTest, RejectsWrongLeafIndexOrUnmetPolicy) {
  TlogProof p = Receipt(3);
  EXPECT_FALSE(VerifyTlogProof(p, leaves_[4], log_v_, Policy(0)).ok());
  p.index = 4;
  EXPECT_FALSE(VerifyTlogProof(p, leaves_[3], log_v_, Policy(0)).ok());
  // Only one witness cosigned: a 2-of-2 policy fails, 1-of-2 passes.
  Checkpoint cp{log_.name(), 21, *range_.Root(h_), {}};
  std::string one =
      *AddSignatures(*SignNote(cp.Body(), {log_}), {*Cosign(witnesses_[0], cp.Body(), 1)});
  TlogProof q = Receipt(3);
  q.checkpoint = one;
  EXPECT_TRUE(VerifyTlogProof(q, leaves_[3], log_v_, Policy(1)).ok());
  absl::Status s = VerifyTlogProof(q, leaves_[3], log_v_, Policy(2)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("policy needs 2"), absl::string_view::npos);
  // Signed by someone else's log key: rejected.
  NoteVerifier wrong = *NoteVerifier::Parse(witnesses_[0].VerifierKey());
  EXPECT_FALSE(VerifyTlogProof(Receipt(3), leaves_[3], wrong, Policy(0)).ok());
}

TEST_F(TlogProofTest, ParseRejectsMalformedReceipts) {
  const std::string good = Receipt(7).Format();
  const size_t index_at = good.find("index 7");
  std::vector<std::string> bad = {
      "",
      "c2sp.org/tlog-proof@v2\n" + good.substr(good.find('\n') + 1),
      good.substr(0, index_at) + "index 07" + good.substr(index_at + 7),
      good.substr(0, index_at) + "index -7" + good.substr(index_at + 7),
      good.substr(0, index_at) + "extra !!\n" + good.substr(index_at),
      good.substr(0, index_at + 8) + "AAAA\n" + good.substr(index_at + 8),
      good.substr(0, good.find("\n\n")),  // no checkpoint
      good.substr(0, good.size() - 1),    // checkpoint truncated
  };
  for (const std::string& b : bad) EXPECT_FALSE(TlogProof::Parse(b).ok()) << b;
}

TEST(WitnessPolicy, RejectsImpossibleThresholdAndDuplicates) {
  NoteSigner w = *NoteSigner::FromSeed("w.example", std::string(32, 'w'));
  NoteVerifier v = *NoteVerifier::Parse(w.VerifierKey());
  EXPECT_FALSE(WitnessPolicy::Create({v}, 2).ok());
  EXPECT_FALSE(WitnessPolicy::Create({v, v}, 1).ok());
  absl::StatusOr<WitnessPolicy> p = WitnessPolicy::Create({v}, 1);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->witnesses[0].type(), SigType::kCosignatureV1);
}

}  // namespace
}  // namespace infratrail
