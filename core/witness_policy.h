// Checking a log's checkpoint note against the log's key and a k-of-n
// witness policy: the one check every reader (client, monitor, offline
// receipt verifier) makes before trusting a tree head.
#ifndef INFRATRAIL_CORE_WITNESS_POLICY_H_
#define INFRATRAIL_CORE_WITNESS_POLICY_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/checkpoint.h"
#include "core/note.h"
#include "core/note_key.h"
#include "core/tlog_policy.h"

namespace infratrail {

struct WitnessPolicy {
  // Witness cosignature keys (type 0x04; a type 0x01 key is converted with
  // NoteVerifier::AsCosignatureVerifier by Create).
  std::vector<NoteVerifier> witnesses;
  // How many distinct witnesses must have cosigned. 0: no witness needed.
  size_t threshold = 0;
  // When set (FromTlogPolicy), the quorum is this policy's (groups of
  // witnesses) instead of the threshold, and `witnesses` are its witnesses.
  std::shared_ptr<const TlogPolicy> tlog_policy;

  // InvalidArgument if threshold > witnesses.size(), a key is neither type
  // 0x01 nor 0x04, or two witnesses share a name.
  static absl::StatusOr<WitnessPolicy> Create(std::vector<NoteVerifier> witnesses,
                                              size_t threshold);
  // The witnesses and quorum of a C2SP tlog-policy (its log lines are not
  // used here).
  static WitnessPolicy FromTlogPolicy(std::shared_ptr<const TlogPolicy> policy);

  bool requires_cosignatures() const {
    return tlog_policy != nullptr ? !tlog_policy->quorum_none() : threshold > 0;
  }
};

struct VerifiedCheckpoint {
  Checkpoint checkpoint;
  Note note;
  size_t witness_count = 0;                // distinct witnesses whose cosignature verified
  std::vector<std::string> witness_names;  // their names
};

// Opens `note` with the log key and the witnesses, requires the log's own
// signature, origin == log_key.name(), and at least policy.threshold witness
// cosignatures (or the tlog-policy's quorum). Errors are those of OpenNote, plus Unauthenticated
// when the log's signature or the witness quorum is missing, and InvalidArgument for a text that is
// not a checkpoint, has the wrong origin, or claims size 0 with a root other than the empty tree's.
absl::StatusOr<VerifiedCheckpoint> OpenCheckpoint(absl::string_view note,
                                                  const NoteVerifier& log_key,
                                                  const WitnessPolicy& policy);

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_WITNESS_POLICY_H_
