#include "core/proof.h"

#include <bit>

#include "absl/strings/str_cat.h"

namespace infratrail {
namespace {

// A subtree [begin, end) of the RFC 9162 tree; perfect unless it touches the
// right edge.
struct Subtree {
  uint64_t begin;
  uint64_t end;
};

// RFC 9162 §2.1.3.1 PATH(m, D[begin:end]), appended deepest first.
void PathSpans(uint64_t m, uint64_t begin, uint64_t end, std::vector<Subtree>* out) {
  const uint64_t n = end - begin;
  if (n <= 1) return;
  const uint64_t k = SplitPoint(n);
  if (m < k) {
    PathSpans(m, begin, begin + k, out);
    out->push_back({begin + k, end});
  } else {
    PathSpans(m - k, begin + k, end, out);
    out->push_back({begin, begin + k});
  }
}

// RFC 9162 §2.1.4.1 SUBPROOF(m, D[begin:end], b), appended deepest first.
void SubproofSpans(uint64_t m, uint64_t begin, uint64_t end, bool b, std::vector<Subtree>* out) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (!b) out->push_back({begin, end});
    return;
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    SubproofSpans(m, begin, begin + k, b, out);
    out->push_back({begin + k, end});
  } else {
    SubproofSpans(m - k, begin + k, end, false, out);
    out->push_back({begin, begin + k});
  }
}

ProofPlan PlanFromSpans(const std::vector<Subtree>& spans) {
  ProofPlan plan;
  for (const Subtree& s : spans) {
    std::vector<NodeId> ids = DecomposeRange(s.begin, s.end);
    plan.groups.push_back(
        {static_cast<uint32_t>(plan.nodes.size()), static_cast<uint32_t>(ids.size())});
    plan.nodes.insert(plan.nodes.end(), ids.begin(), ids.end());
  }
  return plan;
}

void ShiftUntil(uint64_t& fn, uint64_t& sn, bool until_set) {
  // Right-shift both until LSB(fn) is set (until_set) or clear (!until_set),
  // or fn reaches 0.
  while (fn != 0 && ((fn & 1) == 1) != until_set) {
    fn >>= 1;
    sn >>= 1;
  }
}

}  // namespace

absl::StatusOr<std::vector<Hash>> ProofPlan::Rehash(absl::Span<const Hash> fetched,
                                                    Hasher& hasher) const {
  if (fetched.size() != nodes.size()) {
    return absl::InvalidArgumentError(absl::StrCat("ProofPlan::Rehash: got ", fetched.size(),
                                                   " hashes for ", nodes.size(), " nodes"));
  }
  std::vector<Hash> proof;
  proof.reserve(groups.size());
  for (const Group& g : groups) {
    Hash h = fetched[g.first + g.count - 1];
    for (uint32_t i = g.count - 1; i > 0; --i) h = hasher.HashChildren(fetched[g.first + i - 1], h);
    proof.push_back(h);
  }
  return proof;
}

absl::StatusOr<ProofPlan> PlanInclusion(uint64_t index, uint64_t size) {
  if (index >= size) {
    return absl::OutOfRangeError(
        absl::StrCat("inclusion proof: index ", index, " >= tree size ", size));
  }
  std::vector<Subtree> spans;
  PathSpans(index, 0, size, &spans);
  return PlanFromSpans(spans);
}

absl::StatusOr<ProofPlan> PlanConsistency(uint64_t size1, uint64_t size2) {
  if (size1 == 0) {
    return absl::InvalidArgumentError(
        "consistency proof: size1 is 0; the empty tree needs no proof");
  }
  if (size1 > size2) {
    return absl::OutOfRangeError(
        absl::StrCat("consistency proof: size1 ", size1, " > size2 ", size2));
  }
  std::vector<Subtree> spans;
  SubproofSpans(size1, 0, size2, true, &spans);
  return PlanFromSpans(spans);
}

namespace {
// x >> n, defined for n == 64 too (the tree's top level).
uint64_t ShiftRight(uint64_t x, int n) { return n >= 64 ? 0 : x >> n; }
}  // namespace

int InclusionProofLength(uint64_t index, uint64_t size) {
  const int inner = std::bit_width(index ^ (size - 1));
  const int border = std::popcount(ShiftRight(index, inner));
  return inner + border;
}

int ConsistencyProofLength(uint64_t size1, uint64_t size2) {
  if (size1 == size2) return 0;
  const int shift = std::countr_zero(size1);
  const int inner = std::bit_width((size1 - 1) ^ (size2 - 1)) - shift;
  const int border = std::popcount(ShiftRight(size1 - 1, inner + shift));
  const int seed = std::has_single_bit(size1) ? 0 : 1;
  return seed + inner + border;
}

absl::StatusOr<Hash> RootFromInclusionProof(uint64_t index, uint64_t size, const Hash& leaf_hash,
                                            absl::Span<const Hash> proof, Hasher& hasher) {
  if (index >= size) {
    return absl::OutOfRangeError(
        absl::StrCat("inclusion proof: index ", index, " >= tree size ", size));
  }
  const int want = InclusionProofLength(index, size);
  if (static_cast<int>(proof.size()) != want) {
    return absl::InvalidArgumentError(absl::StrCat("inclusion proof: ", proof.size(),
                                                   " hashes, want ", want, " for index ", index,
                                                   " in tree size ", size));
  }
  // RFC 9162 §2.1.3.2.
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return absl::InvalidArgumentError("inclusion proof: too long");
    if ((fn & 1) == 1 || fn == sn) {
      r = hasher.HashChildren(p, r);
      ShiftUntil(fn, sn, /*until_set=*/true);
    } else {
      r = hasher.HashChildren(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::InvalidArgumentError("inclusion proof: too short");
  return r;
}

absl::Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf_hash,
                             absl::Span<const Hash> proof, const Hash& root, Hasher& hasher) {
  absl::StatusOr<Hash> got = RootFromInclusionProof(index, size, leaf_hash, proof, hasher);
  if (!got.ok()) return got.status();
  if (*got != root) {
    return absl::FailedPreconditionError(
        absl::StrCat("inclusion proof: computed root ", HashToBase64(*got), " != expected root ",
                     HashToBase64(root), " (index ", index, ", tree size ", size, ")"));
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t size1, uint64_t size2, const Hash& root1, const Hash& root2,
                               absl::Span<const Hash> proof, Hasher& hasher) {
  if (size1 == 0) {
    return absl::InvalidArgumentError(
        "consistency proof: size1 is 0; the empty tree needs no proof");
  }
  if (size1 > size2) {
    return absl::OutOfRangeError(
        absl::StrCat("consistency proof: size1 ", size1, " > size2 ", size2));
  }
  const int want = ConsistencyProofLength(size1, size2);
  if (static_cast<int>(proof.size()) != want) {
    return absl::InvalidArgumentError(absl::StrCat("consistency proof: ", proof.size(),
                                                   " hashes, want ", want, " from size ", size1,
                                                   " to ", size2));
  }
  if (size1 == size2) {
    if (root1 != root2) {
      return absl::FailedPreconditionError(
          absl::StrCat("consistency proof: different roots at equal size ", size1));
    }
    return absl::OkStatus();
  }
  // RFC 9162 §2.1.4.2.
  std::vector<Hash> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(size1)) path.push_back(root1);
  path.insert(path.end(), proof.begin(), proof.end());
  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  ShiftUntil(fn, sn, /*until_set=*/false);
  Hash fr = path[0];
  Hash sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return absl::InvalidArgumentError("consistency proof: too long");
    if ((fn & 1) == 1 || fn == sn) {
      fr = hasher.HashChildren(c, fr);
      sr = hasher.HashChildren(c, sr);
      ShiftUntil(fn, sn, /*until_set=*/true);
    } else {
      sr = hasher.HashChildren(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::InvalidArgumentError("consistency proof: too short");
  if (fr != root1) {
    return absl::FailedPreconditionError(absl::StrCat("consistency proof: does not lead to root1 ",
                                                      HashToBase64(root1), " at size ", size1));
  }
  if (sr != root2) {
    return absl::FailedPreconditionError(absl::StrCat("consistency proof: does not lead to root2 ",
                                                      HashToBase64(root2), " at size ", size2));
  }
  return absl::OkStatus();
}

}  // namespace infratrail
