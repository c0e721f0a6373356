#include "bench/loadgen_verify.h"

#include "absl/strings/str_cat.h"
#include "core/proof.h"

namespace infratrail::loadgen {
namespace {

Hasher& ThreadHasher() {
  thread_local Hasher hasher;
  return hasher;
}

}  // namespace

absl::StatusOr<Checkpoint> ParseCheckpointNote(absl::string_view note) {
  const size_t blank = note.find("\n\n");
  if (blank == absl::string_view::npos) {
    return absl::InvalidArgumentError("checkpoint note: no blank line before the signatures");
  }
  return Checkpoint::Parse(note.substr(0, blank + 1));
}

absl::StatusOr<std::vector<Hash>> ProofHashes(
    const google::protobuf::RepeatedPtrField<std::string>& proof, absl::string_view field) {
  std::vector<Hash> hashes;
  hashes.reserve(proof.size());
  for (int i = 0; i < proof.size(); ++i) {
    absl::StatusOr<Hash> h = HashFromBytes(proof[i], absl::StrCat(field, "[", i, "]"));
    if (!h.ok()) return h.status();
    hashes.push_back(*h);
  }
  return hashes;
}

absl::Status VerifyAppend(const v1::AddEventsRequest& request,
                          const v1::AddEventsResponse& response, bool wait_for_checkpoint,
                          bool full) {
  if (response.entries_size() != request.entries_size()) {
    return absl::DataLossError(absl::StrCat("AddEvents: ", response.entries_size(),
                                            " entries in the reply for ", request.entries_size(),
                                            " sent"));
  }
  if (wait_for_checkpoint && response.checkpoint().empty()) {
    return absl::DataLossError("AddEvents: no checkpoint despite wait_for_checkpoint");
  }
  if (!full) return absl::OkStatus();
  absl::StatusOr<Checkpoint> cp;
  if (wait_for_checkpoint) {
    cp = ParseCheckpointNote(response.checkpoint());
    if (!cp.ok()) return cp.status();
  }
  for (int i = 0; i < request.entries_size(); ++i) {
    const v1::AddedEntry& added = response.entries(i);
    const Hash leaf = ThreadHasher().HashLeaf(request.entries(i).data());
    if (added.leaf_hash() != AsBytes(leaf)) {
      return absl::DataLossError(
          absl::StrCat("AddEvents: entries[", i, "].leaf_hash is not the hash of the entry sent"));
    }
    if (!wait_for_checkpoint) continue;
    absl::StatusOr<std::vector<Hash>> proof =
        ProofHashes(added.inclusion_proof(), absl::StrCat("entries[", i, "].inclusion_proof"));
    if (!proof.ok()) return proof.status();
    absl::Status s =
        VerifyInclusion(added.index(), cp->size, leaf, *proof, cp->root, ThreadHasher());
    if (!s.ok()) {
      return absl::DataLossError(
          absl::StrCat("AddEvents: entries[", i, "] (index ", added.index(), "): ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckInclusionShape(const v1::GetInclusionProofResponse& r, uint64_t index,
                                 uint64_t size) {
  if (r.index() != index || r.tree_size() != size ||
      r.proof_size() != InclusionProofLength(index, size)) {
    return absl::DataLossError(absl::StrCat("GetInclusionProof(", index, ", ", size,
                                            "): reply for index ", r.index(), " size ",
                                            r.tree_size(), " with ", r.proof_size(), " hashes"));
  }
  return absl::OkStatus();
}

absl::Status CheckConsistencyShape(const v1::GetConsistencyProofResponse& r, uint64_t from,
                                   uint64_t size) {
  if (r.from_size() != from || r.to_size() != size ||
      r.proof_size() != ConsistencyProofLength(from, size)) {
    return absl::DataLossError(absl::StrCat("GetConsistencyProof(", from, ", ", size,
                                            "): reply for ", r.from_size(), " -> ", r.to_size(),
                                            " with ", r.proof_size(), " hashes"));
  }
  return absl::OkStatus();
}

absl::Status VerifyInclusionWithEntry(const v1::GetInclusionProofResponse& r, uint64_t index,
                                      const Checkpoint& cp,
                                      const v1::GetEntryAndProofResponse& entry) {
  absl::StatusOr<std::vector<Hash>> proof = ProofHashes(r.proof(), "GetInclusionProof.proof");
  if (!proof.ok()) return proof.status();
  const Hash leaf = ThreadHasher().HashLeaf(entry.entry().data());
  absl::Status s = VerifyInclusion(index, cp.size, leaf, *proof, cp.root, ThreadHasher());
  if (!s.ok()) {
    return absl::DataLossError(
        absl::StrCat("GetInclusionProof(", index, ", ", cp.size, "): ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistencyWithEntry(const v1::GetConsistencyProofResponse& r, uint64_t from,
                                        const Checkpoint& cp,
                                        const v1::GetEntryAndProofResponse& entry) {
  absl::StatusOr<std::vector<Hash>> proof = ProofHashes(r.proof(), "GetConsistencyProof.proof");
  if (!proof.ok()) return proof.status();
  absl::StatusOr<std::vector<Hash>> entry_proof =
      ProofHashes(entry.proof(), "GetEntryAndProof.proof");
  if (!entry_proof.ok()) return entry_proof.status();
  // The last leaf of the smaller tree and its inclusion proof give that
  // tree's root, which the consistency proof must then link to cp.root.
  const Hash leaf = ThreadHasher().HashLeaf(entry.entry().data());
  absl::StatusOr<Hash> root1 =
      RootFromInclusionProof(from - 1, from, leaf, *entry_proof, ThreadHasher());
  if (!root1.ok()) return root1.status();
  absl::Status s = VerifyConsistency(from, cp.size, *root1, cp.root, *proof, ThreadHasher());
  if (!s.ok()) {
    return absl::DataLossError(
        absl::StrCat("GetConsistencyProof(", from, ", ", cp.size, "): ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace infratrail::loadgen
