// RFC 9162 inclusion and consistency proofs, in two steps as storage needs
// them: first which perfect-subtree nodes a proof needs (ProofPlan), then the
// proof hashes from those nodes' fetched hashes (ProofPlan::Rehash). A proof
// hash whose subtree is not perfect (the ragged right edge of the tree) is
// folded from several fetched nodes.
//
// Also the verifiers of RFC 9162 §2.1.3.2 and §2.1.4.2. Indices are 0-based.
// All functions are pure and thread-safe given a per-thread Hasher.
#ifndef INFRATRAIL_CORE_PROOF_H_
#define INFRATRAIL_CORE_PROOF_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/hash.h"
#include "core/node_id.h"

namespace infratrail {

// The most hashes an inclusion proof has: one per level of a tree of up to
// 2^64 - 1 leaves.
inline constexpr size_t kMaxInclusionProofHashes = 64;

struct ProofPlan {
  // Perfect nodes whose hashes must be fetched, in this order.
  std::vector<NodeId> nodes;
  // One entry per proof hash: nodes[first, first + count) fold into it
  // (right to left). count is 1 except for a node on the ragged right edge.
  struct Group {
    uint32_t first;
    uint32_t count;
  };
  std::vector<Group> groups;

  // The proof, given the hashes of `nodes` in order. InvalidArgument if
  // fetched.size() != nodes.size().
  absl::StatusOr<std::vector<Hash>> Rehash(absl::Span<const Hash> fetched, Hasher& hasher) const;
};

// Nodes for the inclusion proof of leaf `index` in the tree of `size` leaves.
// OutOfRange if index >= size.
absl::StatusOr<ProofPlan> PlanInclusion(uint64_t index, uint64_t size);

// Nodes for the consistency proof from tree size `size1` to `size2`.
// InvalidArgument if size1 == 0 (no proof exists from the empty tree; any tree
// extends it) and OutOfRange if size1 > size2. size1 == size2 gives an empty
// proof.
absl::StatusOr<ProofPlan> PlanConsistency(uint64_t size1, uint64_t size2);

// Expected proof lengths; the verifiers reject any other length up front.
int InclusionProofLength(uint64_t index, uint64_t size);     // requires index < size
int ConsistencyProofLength(uint64_t size1, uint64_t size2);  // requires 0 < size1 <= size2

// The root implied by an inclusion proof. OutOfRange if index >= size,
// InvalidArgument if the proof has the wrong length.
absl::StatusOr<Hash> RootFromInclusionProof(uint64_t index, uint64_t size, const Hash& leaf_hash,
                                            absl::Span<const Hash> proof, Hasher& hasher);

// OK iff `proof` proves leaf `leaf_hash` at `index` in the tree (size, root).
// Errors: OutOfRange (index >= size), InvalidArgument (wrong length),
// FailedPrecondition (the proof does not lead to `root`).
absl::Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf_hash,
                             absl::Span<const Hash> proof, const Hash& root, Hasher& hasher);

// OK iff `proof` proves that tree (size1, root1) is a prefix of (size2, root2).
// size1 == size2 needs an empty proof and equal roots. Errors: InvalidArgument
// (size1 == 0, wrong length), OutOfRange (size1 > size2), FailedPrecondition
// (hashes do not lead to both roots).
absl::Status VerifyConsistency(uint64_t size1, uint64_t size2, const Hash& root1, const Hash& root2,
                               absl::Span<const Hash> proof, Hasher& hasher);

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_PROOF_H_
