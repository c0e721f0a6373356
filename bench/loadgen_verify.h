// Checks of server replies against core/: the load generator verifies a
// sample of what it measures, so a fast but wrong server cannot pass.
#ifndef INFRATRAIL_BENCH_LOADGEN_VERIFY_H_
#define INFRATRAIL_BENCH_LOADGEN_VERIFY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/checkpoint.h"
#include "core/hash.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "infratrail/v1/log.pb.h"

namespace infratrail::loadgen {

// The checkpoint of a signed note: the text before the blank line, parsed
// (signatures are not checked). InvalidArgument if there is no blank line or
// the text is not a checkpoint.
absl::StatusOr<Checkpoint> ParseCheckpointNote(absl::string_view note);

// Proof hashes from the wire; InvalidArgument naming `field` for a hash that
// is not 32 bytes.
absl::StatusOr<std::vector<Hash>> ProofHashes(
    const google::protobuf::RepeatedPtrField<std::string>& proof, absl::string_view field);

// An AddEvents reply against its request: one entry per event, in order, and
// (if `full`) leaf hashes equal to HashLeaf of the bytes sent and, when the
// reply carries a checkpoint, every inclusion proof verified against it.
absl::Status VerifyAppend(const v1::AddEventsRequest& request,
                          const v1::AddEventsResponse& response, bool wait_for_checkpoint,
                          bool full);

// A proof's length must be the one RFC 9162 gives for its sizes.
absl::Status CheckInclusionShape(const v1::GetInclusionProofResponse& r, uint64_t index,
                                 uint64_t size);
absl::Status CheckConsistencyShape(const v1::GetConsistencyProofResponse& r, uint64_t from,
                                   uint64_t size);

// Full checks, given the entry at `index` fetched with its proof in the tree
// of `entry.tree_size()` (index itself for inclusion; from - 1 in the tree of
// `from` for consistency, whose root the entry's proof then yields).
absl::Status VerifyInclusionWithEntry(const v1::GetInclusionProofResponse& r, uint64_t index,
                                      const Checkpoint& cp,
                                      const v1::GetEntryAndProofResponse& entry);
absl::Status VerifyConsistencyWithEntry(const v1::GetConsistencyProofResponse& r, uint64_t from,
                                        const Checkpoint& cp,
                                        const v1::GetEntryAndProofResponse& entry);

}  // namespace infratrail::loadgen

#endif  // INFRATRAIL_BENCH_LOADGEN_VERIFY_H_
