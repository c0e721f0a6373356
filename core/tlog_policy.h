// C2SP tlog-policy: which logs' checkpoints a reader accepts and which
// witnesses must have cosigned them (a quorum over witnesses and groups of
// them). One policy text describes a log for its server (which witnesses to
// ask), its verifiers and its monitors.
//
//   log <vkey> [<url>]
//   witness <name> <vkey> [<url>]
//   group <name> all|any|<k> <member>...
//   quorum <name>|none
//
// Items are separated by spaces and tabs; blank lines and lines whose first
// non-blank character is `#` are ignored. Names are opaque octets, shared by
// witnesses and groups; `none` is reserved. A group or the quorum names only
// what earlier lines defined, and a name is a group member at most once in
// the whole file. Exactly one quorum line. Log keys sign checkpoints (types
// 0x01, 0x02, 0x05), witness keys cosign them (0x04; a 0x01 key is taken as
// the same Ed25519 key's cosignature key). No two logs and no two witnesses
// share a public key. Pure: no I/O.
#ifndef INFRATRAIL_CORE_TLOG_POLICY_H_
#define INFRATRAIL_CORE_TLOG_POLICY_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/note_key.h"

namespace infratrail {

// Bounds on what Parse accepts (the spec asks for at least 32 of each).
inline constexpr size_t kMaxPolicyLogs = 256;
inline constexpr size_t kMaxPolicyWitnesses = 256;
inline constexpr size_t kMaxPolicyGroups = 256;
inline constexpr size_t kMaxPolicyBytes = 1 << 20;

struct TlogPolicyLog {
  NoteVerifier key;
  std::string url;  // may be empty
};

struct TlogPolicyWitness {
  std::string name;
  NoteVerifier key;  // the cosignature (0x04) key
  std::string url;   // the submission prefix; may be empty
};

class TlogPolicy {
 public:
  // Parses a policy. InvalidArgument "<source>:<line>:<column>: <what>" for
  // a grammar error (the column is that of the offending item, 1-based), or
  // "<source>: no quorum line".
  static absl::StatusOr<TlogPolicy> Parse(absl::string_view text, absl::string_view source);

  const std::vector<TlogPolicyLog>& logs() const { return logs_; }
  const std::vector<TlogPolicyWitness>& witnesses() const { return witnesses_; }
  // `quorum none`: no cosignature is needed.
  bool quorum_none() const { return quorum_ < 0; }

  // Whether witnesses with these names having cosigned meets the quorum.
  bool Satisfied(const absl::flat_hash_set<std::string>& cosigned) const;

 private:
  // Witnesses are nodes [0, witnesses_.size()), groups follow.
  struct Group {
    std::string name;
    size_t k = 0;
    std::vector<int> members;  // node indices
  };
  bool NodeSatisfied(int node, const absl::flat_hash_set<std::string>& cosigned) const;

  std::vector<TlogPolicyLog> logs_;
  std::vector<TlogPolicyWitness> witnesses_;
  std::vector<Group> groups_;
  int quorum_ = -1;  // node index; -1: none
};

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_TLOG_POLICY_H_
