// Cross-checks the proof maths against the naive recursive implementation
// of the RFC 9162 §2.1 definitions in core/testing/merkle_reference.h,
// written from the RFC text and independent of proof.cc.
#include "core/proof.h"

#include <map>
#include <random>

#include "core/compact_range.h"
#include "core/testing/merkle_reference.h"
#include "gtest/gtest.h"

namespace infratrail {
namespace {

std::vector<Hash> MakeLeaves(uint64_t n) {
  Hasher h;
  std::vector<Hash> out;
  out.reserve(n);
  for (uint64_t i = 0; i < n; ++i) out.push_back(h.HashLeaf("leaf " + std::to_string(i)));
  return out;
}

// Hashes of every perfect node, by level, as storage would hold them.
class NodeStore {
 public:
  explicit NodeStore(const std::vector<Hash>& leaves) {
    Hasher h;
    levels_.push_back(leaves);
    while (levels_.back().size() > 1) {
      const std::vector<Hash>& below = levels_.back();
      std::vector<Hash> up;
      for (size_t i = 0; i + 1 < below.size(); i += 2)
        up.push_back(h.HashChildren(below[i], below[i + 1]));
      levels_.push_back(std::move(up));
    }
  }
  std::vector<Hash> Fetch(const std::vector<NodeId>& ids) const {
    std::vector<Hash> out;
    out.reserve(ids.size());
    for (const NodeId& id : ids) out.push_back(levels_.at(id.level).at(id.index));
    return out;
  }

 private:
  std::vector<std::vector<Hash>> levels_;
};

TEST(Proof, RootOfEverySizeUpTo1024MatchesReference) {
  const std::vector<Hash> leaves = MakeLeaves(1024);
  MerkleReference ref(leaves);
  Hasher h;
  CompactRange cr;
  for (uint64_t n = 0; n <= 1024; ++n) {
    ASSERT_EQ(*cr.Root(h), ref.Root(n)) << "size " << n;
    if (n < 1024) cr.AppendLeaf(leaves[n], h);
  }
}

TEST(Proof, EveryInclusionProofUpTo256MatchesReferenceAndVerifies) {
  const std::vector<Hash> leaves = MakeLeaves(256);
  MerkleReference ref(leaves);
  NodeStore store(leaves);
  Hasher h;
  for (uint64_t n = 1; n <= 256; ++n) {
    const Hash root = ref.Root(n);
    for (uint64_t i = 0; i < n; ++i) {
      absl::StatusOr<ProofPlan> plan = PlanInclusion(i, n);
      ASSERT_TRUE(plan.ok());
      absl::StatusOr<std::vector<Hash>> proof = plan->Rehash(store.Fetch(plan->nodes), h);
      ASSERT_TRUE(proof.ok());
      ASSERT_EQ(*proof, ref.Inclusion(i, n)) << "index " << i << " size " << n;
      ASSERT_EQ(static_cast<int>(proof->size()), InclusionProofLength(i, n));
      ASSERT_TRUE(VerifyInclusion(i, n, leaves[i], *proof, root, h).ok());
    }
  }
}

TEST(Proof, EveryConsistencyProofUpTo256MatchesReferenceAndVerifies) {
  const std::vector<Hash> leaves = MakeLeaves(256);
  MerkleReference ref(leaves);
  NodeStore store(leaves);
  Hasher h;
  for (uint64_t n = 1; n <= 256; ++n) {
    for (uint64_t m = 1; m <= n; ++m) {
      absl::StatusOr<ProofPlan> plan = PlanConsistency(m, n);
      ASSERT_TRUE(plan.ok());
      absl::StatusOr<std::vector<Hash>> proof = plan->Rehash(store.Fetch(plan->nodes), h);
      ASSERT_TRUE(proof.ok());
      ASSERT_EQ(*proof, ref.Consistency(m, n)) << "m " << m << " n " << n;
      ASSERT_EQ(static_cast<int>(proof->size()), ConsistencyProofLength(m, n));
      ASSERT_TRUE(VerifyConsistency(m, n, ref.Root(m), ref.Root(n), *proof, h).ok())
          << m << " " << n;
    }
  }
}

TEST(Proof, RandomProofsUpToAMillionMatchReference) {
  constexpr uint64_t kMax = 1'000'000;
  const std::vector<Hash> leaves = MakeLeaves(kMax);
  MerkleReference ref(leaves);
  NodeStore store(leaves);
  Hasher h;
  std::mt19937_64 rng(20261122);
  for (int trial = 0; trial < 300; ++trial) {
    const uint64_t n = 1 + rng() % kMax;
    const uint64_t i = rng() % n;
    const uint64_t m = 1 + rng() % n;
    absl::StatusOr<ProofPlan> incl = PlanInclusion(i, n);
    absl::StatusOr<std::vector<Hash>> ip = incl->Rehash(store.Fetch(incl->nodes), h);
    ASSERT_EQ(*ip, ref.Inclusion(i, n)) << i << " " << n;
    ASSERT_TRUE(VerifyInclusion(i, n, leaves[i], *ip, ref.Root(n), h).ok());
    absl::StatusOr<ProofPlan> cons = PlanConsistency(m, n);
    absl::StatusOr<std::vector<Hash>> cp = cons->Rehash(store.Fetch(cons->nodes), h);
    ASSERT_EQ(*cp, ref.Consistency(m, n)) << m << " " << n;
    ASSERT_TRUE(VerifyConsistency(m, n, ref.Root(m), ref.Root(n), *cp, h).ok());
  }
}

TEST(Proof, RaggedRightEdgeNeedsAtMostOneFoldedGroup) {
  for (uint64_t n = 1; n <= 300; ++n) {
    for (uint64_t i = 0; i < n; ++i) {
      int folded = 0;
      const absl::StatusOr<ProofPlan> plan = PlanInclusion(i, n);
      ASSERT_TRUE(plan.ok());
      for (const ProofPlan::Group& g : plan->groups) folded += g.count > 1;
      ASSERT_LE(folded, 1) << i << " " << n;
    }
  }
}

class ProofTamper : public ::testing::Test {
 protected:
  void SetUp() override {
    leaves_ = MakeLeaves(100);
    ref_ = std::make_unique<MerkleReference>(leaves_);
  }
  std::vector<Hash> leaves_;
  std::unique_ptr<MerkleReference> ref_;
  Hasher h_;
};

TEST_F(ProofTamper, InclusionRejectsEveryFlippedByteWrongLengthAndWrongIndex) {
  const uint64_t n = 77, i = 42;
  const Hash root = ref_->Root(n);
  std::vector<Hash> proof = ref_->Inclusion(i, n);
  ASSERT_TRUE(VerifyInclusion(i, n, leaves_[i], proof, root, h_).ok());
  for (size_t k = 0; k < proof.size(); ++k) {
    std::vector<Hash> bad = proof;
    bad[k][7] ^= 1;
    EXPECT_EQ(VerifyInclusion(i, n, leaves_[i], bad, root, h_).code(),
              absl::StatusCode::kFailedPrecondition);
  }
  std::vector<Hash> longer = proof;
  longer.push_back(proof[0]);
  EXPECT_EQ(VerifyInclusion(i, n, leaves_[i], longer, root, h_).code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<Hash> shorter(proof.begin(), proof.end() - 1);
  EXPECT_EQ(VerifyInclusion(i, n, leaves_[i], shorter, root, h_).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyInclusion(n, n, leaves_[i], proof, root, h_).code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_FALSE(VerifyInclusion(i + 1, n, leaves_[i], proof, root, h_).ok());
  EXPECT_FALSE(VerifyInclusion(i, n, leaves_[i + 1], proof, root, h_).ok());
  EXPECT_FALSE(VerifyInclusion(i, n - 1, leaves_[i], proof, ref_->Root(n - 1), h_).ok());
  absl::Status s = VerifyInclusion(n + 5, n, leaves_[i], proof, root, h_);
  EXPECT_NE(s.message().find("index 82 >= tree size 77"), absl::string_view::npos) << s;
}

TEST_F(ProofTamper, ConsistencyRejectsTamperingSwappedSizesAndZero) {
  const uint64_t m = 37, n = 99;
  ASSERT_LT(n, 101u);
  const std::vector<Hash> leaves = MakeLeaves(n);
  MerkleReference ref(leaves);
  const Hash r1 = ref.Root(m), r2 = ref.Root(n);
  std::vector<Hash> proof = ref.Consistency(m, n);
  ASSERT_TRUE(VerifyConsistency(m, n, r1, r2, proof, h_).ok());
  for (size_t k = 0; k < proof.size(); ++k) {
    std::vector<Hash> bad = proof;
    bad[k][0] ^= 0x80;
    EXPECT_FALSE(VerifyConsistency(m, n, r1, r2, bad, h_).ok()) << k;
  }
  EXPECT_EQ(VerifyConsistency(n, m, r2, r1, proof, h_).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(VerifyConsistency(0, n, Hasher::EmptyRoot(), r2, {}, h_).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(VerifyConsistency(m, n, r2, r2, proof, h_).ok());
  EXPECT_FALSE(VerifyConsistency(m, n, r1, r1, proof, h_).ok());
  EXPECT_TRUE(VerifyConsistency(n, n, r2, r2, {}, h_).ok());
  EXPECT_FALSE(VerifyConsistency(n, n, r1, r2, {}, h_).ok());
  EXPECT_FALSE(VerifyConsistency(n, n, r2, r2, {r2}, h_).ok());
  EXPECT_EQ(PlanConsistency(0, 5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanConsistency(6, 5).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(PlanInclusion(5, 5).status().code(), absl::StatusCode::kOutOfRange);
}

TEST(Proof, RehashRejectsWrongNumberOfFetchedHashes) {
  Hasher h;
  absl::StatusOr<ProofPlan> plan = PlanInclusion(3, 7);
  ASSERT_TRUE(plan.ok());
  std::vector<Hash> fetched(plan->nodes.size() + 1);
  EXPECT_EQ(plan->Rehash(fetched, h).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Proof, LengthsAtTheTopBitAreDefined) {
  // index ^ (size - 1) has bit 63 set: the border shift is by 64.
  const uint64_t top = uint64_t{1} << 63;
  EXPECT_EQ(InclusionProofLength(top, top + 1), 1);
  EXPECT_EQ(InclusionProofLength(0, top + 1), 64);
  EXPECT_EQ(ConsistencyProofLength(top, top + 1), 1);
  EXPECT_EQ(ConsistencyProofLength(3, top + 1),
            static_cast<int>(PlanConsistency(3, top + 1)->groups.size()));
}

TEST(Proof, HugeTreeSizesDoNotOverflow) {
  Hasher h;
  const uint64_t n = UINT64_MAX;
  absl::StatusOr<ProofPlan> plan = PlanInclusion(n - 1, n);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(static_cast<int>(plan->groups.size()), InclusionProofLength(n - 1, n));
  absl::StatusOr<ProofPlan> cons = PlanConsistency(n - 1, n);
  ASSERT_TRUE(cons.ok());
  EXPECT_EQ(static_cast<int>(cons->groups.size()), ConsistencyProofLength(n - 1, n));
}

}  // namespace
}  // namespace infratrail
