#include "core/compact_range.h"

#include <random>
#include <set>

#include "gtest/gtest.h"

namespace infratrail {
namespace {

std::vector<Hash> Leaves(uint64_t n) {
  Hasher h;
  std::vector<Hash> out;
  for (uint64_t i = 0; i < n; ++i) out.push_back(h.HashLeaf("entry " + std::to_string(i)));
  return out;
}

TEST(CompactRange, EmptyRangeHasEmptyTreeRoot) {
  Hasher h;
  CompactRange r;
  EXPECT_EQ(*r.Root(h), Hasher::EmptyRoot());
  EXPECT_EQ(HashToHex(*r.Root(h)),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(CompactRange, AppendToPerfectTreeMergesNodes) {
  Hasher h;
  std::vector<Hash> leaves = Leaves(8);
  CompactRange r;
  for (const Hash& l : leaves) r.AppendLeaf(l, h);
  ASSERT_EQ(r.hashes().size(), 1u);
  const Hash left =
      h.HashChildren(h.HashChildren(leaves[0], leaves[1]), h.HashChildren(leaves[2], leaves[3]));
  const Hash right =
      h.HashChildren(h.HashChildren(leaves[4], leaves[5]), h.HashChildren(leaves[6], leaves[7]));
  EXPECT_EQ(r.hashes()[0], h.HashChildren(left, right));
}

TEST(CompactRange, HoldsOneHashPerSetBitOfSize) {
  Hasher h;
  CompactRange r;
  for (const Hash& l : Leaves(1000)) {
    r.AppendLeaf(l, h);
    ASSERT_EQ(r.hashes().size(), static_cast<size_t>(std::popcount(r.end())));
  }
}

TEST(CompactRange, VisitorSeesEveryCompletedNodeOnce) {
  Hasher h;
  std::set<NodeId> seen;
  CompactRange r;
  for (const Hash& l : Leaves(300)) {
    r.AppendLeaf(l, h, [&](NodeId id, const Hash&) { EXPECT_TRUE(seen.insert(id).second); });
  }
  // Every perfect node inside [0, 300) completes exactly once.
  size_t want = 0;
  for (uint32_t level = 0; level < 10; ++level) want += 300 >> level;
  EXPECT_EQ(seen.size(), want);
}

TEST(CompactRange, MergeOfSplitRangesEqualsSingleRange) {
  Hasher h;
  std::vector<Hash> leaves = Leaves(200);
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    uint64_t a = rng() % 200, b = rng() % 200, c = rng() % 200;
    uint64_t cut[3] = {a, b, c};
    std::sort(cut, cut + 3);
    CompactRange left(cut[0]), right(cut[1]), whole(cut[0]);
    for (uint64_t i = cut[0]; i < cut[1]; ++i) left.AppendLeaf(leaves[i], h);
    for (uint64_t i = cut[1]; i < cut[2]; ++i) right.AppendLeaf(leaves[i], h);
    for (uint64_t i = cut[0]; i < cut[2]; ++i) whole.AppendLeaf(leaves[i], h);
    ASSERT_TRUE(left.Merge(right, h).ok());
    ASSERT_EQ(left, whole) << cut[0] << " " << cut[1] << " " << cut[2];
  }
}

TEST(CompactRange, MergeRejectsNonAdjacentRanges) {
  Hasher h;
  CompactRange a(0), b(5);
  a.AppendLeaf(h.HashLeaf("x"), h);
  EXPECT_EQ(a.Merge(b, h).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CompactRange, FromHashesRoundTripsAndChecksCount) {
  Hasher h;
  CompactRange r;
  for (const Hash& l : Leaves(45)) r.AppendLeaf(l, h);
  absl::StatusOr<CompactRange> copy = CompactRange::FromHashes(0, 45, r.hashes());
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ(*copy, r);
  EXPECT_EQ(*copy->Root(h), *r.Root(h));
  std::vector<Hash> fewer(r.hashes().begin() + 1, r.hashes().end());
  EXPECT_EQ(CompactRange::FromHashes(0, 45, fewer).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CompactRange::FromHashes(9, 3, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CompactRange, RootNeedsRangeStartingAtZero) {
  Hasher h;
  CompactRange r(4);
  r.AppendLeaf(h.HashLeaf("x"), h);
  EXPECT_EQ(r.Root(h).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CompactRange, RightEdgeHashFoldsTheTail) {
  Hasher h;
  std::vector<Hash> leaves = Leaves(7);  // nodes [0,4) [4,6) [6,7)
  CompactRange r;
  for (const Hash& l : leaves) r.AppendLeaf(l, h);
  EXPECT_EQ(*r.RightEdgeHash(6, h), leaves[6]);
  EXPECT_EQ(*r.RightEdgeHash(4, h),
            h.HashChildren(h.HashChildren(leaves[4], leaves[5]), leaves[6]));
  EXPECT_EQ(*r.RightEdgeHash(0, h), *r.Root(h));
  EXPECT_EQ(r.RightEdgeHash(5, h).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DecomposeRange, CoversRangeWithAlignedMaximalNodes) {
  for (uint64_t b = 0; b < 70; ++b) {
    for (uint64_t e = b; e < 140; ++e) {
      uint64_t at = b;
      for (const NodeId& id : DecomposeRange(b, e)) {
        ASSERT_EQ(id.Begin(), at);
        ASSERT_LE(id.End(), e);
        // Maximal: the parent would not fit inside [b, e).
        ASSERT_TRUE(id.Parent().Begin() < b || id.Parent().End() > e);
        at = id.End();
      }
      ASSERT_EQ(at, e);
    }
  }
}

}  // namespace
}  // namespace infratrail
