// C2SP tlog-proof@v1: an offline-verifiable receipt that an entry is in a log
// (file extension .tlog-proof):
//
//   c2sp.org/tlog-proof@v1
//   [extra <base64>]
//   index <decimal>
//   <base64 inclusion proof hash>*
//   <blank line>
//   <checkpoint note, with its signatures and cosignatures>
#ifndef INFRATRAIL_CORE_TLOG_PROOF_H_
#define INFRATRAIL_CORE_TLOG_PROOF_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/hash.h"
#include "core/witness_policy.h"

namespace infratrail {

inline constexpr absl::string_view kTlogProofHeader = "c2sp.org/tlog-proof@v1";

struct TlogProof {
  std::optional<std::string> extra;  // opaque, unauthenticated
  uint64_t index = 0;
  std::vector<Hash> inclusion_proof;
  std::string checkpoint;  // the signed checkpoint note, verbatim

  std::string Format() const;
  // Strict parse: header, optional extra, index without leading zeros,
  // canonical base64 hashes of 32 bytes, blank line, a well-formed note.
  // InvalidArgument naming the line.
  static absl::StatusOr<TlogProof> Parse(absl::string_view text);
};

// Verifies a receipt for the entry whose leaf hash is `leaf_hash`: the
// checkpoint under the log key and witness policy (OpenCheckpoint), then the
// inclusion proof against its root. Returns the verified checkpoint.
absl::StatusOr<VerifiedCheckpoint> VerifyTlogProof(const TlogProof& proof, const Hash& leaf_hash,
                                                   const NoteVerifier& log_key,
                                                   const WitnessPolicy& policy);

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_TLOG_PROOF_H_
