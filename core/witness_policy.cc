#include "core/witness_policy.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace infratrail {

absl::StatusOr<WitnessPolicy> WitnessPolicy::Create(std::vector<NoteVerifier> witnesses,
                                                    size_t threshold) {
  WitnessPolicy p;
  absl::flat_hash_set<std::string> names;
  for (NoteVerifier& w : witnesses) {
    if (w.type() == SigType::kEd25519) {
      absl::StatusOr<NoteVerifier> c = w.AsCosignatureVerifier();
      if (!c.ok()) return c.status();
      w = *std::move(c);
    }
    if (w.type() != SigType::kCosignatureV1) {
      return absl::InvalidArgumentError(
          absl::StrCat("witness policy: key ", w.name(), " is not an Ed25519 witness key"));
    }
    if (!names.insert(w.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("witness policy: witness ", w.name(), " listed twice"));
    }
    p.witnesses.push_back(std::move(w));
  }
  if (threshold > p.witnesses.size()) {
    return absl::InvalidArgumentError(absl::StrCat("witness policy: threshold ", threshold, " > ",
                                                   p.witnesses.size(), " witnesses"));
  }
  p.threshold = threshold;
  return p;
}

WitnessPolicy WitnessPolicy::FromTlogPolicy(std::shared_ptr<const TlogPolicy> policy) {
  WitnessPolicy p;
  for (const TlogPolicyWitness& w : policy->witnesses()) p.witnesses.push_back(w.key);
  p.tlog_policy = std::move(policy);
  return p;
}

absl::StatusOr<VerifiedCheckpoint> OpenCheckpoint(absl::string_view note,
                                                  const NoteVerifier& log_key,
                                                  const WitnessPolicy& policy) {
  std::vector<NoteVerifier> keys = policy.witnesses;
  keys.push_back(log_key);
  absl::StatusOr<Note> opened = OpenNote(note, keys);
  if (!opened.ok()) return opened.status();
  VerifiedCheckpoint out;
  bool log_signed = false;
  for (const NoteSignature& s : opened->verified) {
    if (s.name == log_key.name() && s.key_id == log_key.key_id()) {
      log_signed = true;
    } else {
      ++out.witness_count;  // OpenNote allows one signature per key
      out.witness_names.push_back(s.name);
    }
  }
  if (!log_signed) {
    return absl::UnauthenticatedError(
        absl::StrCat("checkpoint: no valid signature from log key ", log_key.name()));
  }
  if (policy.tlog_policy != nullptr) {
    // The quorum speaks of the policy's witness names, not the key names.
    absl::flat_hash_set<std::string> names;
    for (const NoteSignature& s : opened->verified) {
      for (const TlogPolicyWitness& w : policy.tlog_policy->witnesses()) {
        if (w.key.name() == s.name && w.key.key_id() == s.key_id) names.insert(w.name);
      }
    }
    if (!policy.tlog_policy->Satisfied(names)) {
      return absl::UnauthenticatedError(absl::StrCat(
          "checkpoint: the witness policy's quorum is not met (cosigned by ",
          out.witness_names.empty() ? "no witness" : absl::StrJoin(out.witness_names, ", "), ")"));
    }
  } else if (out.witness_count < policy.threshold) {
    return absl::UnauthenticatedError(absl::StrCat("checkpoint: ", out.witness_count,
                                                   " witness cosignatures, policy needs ",
                                                   policy.threshold));
  }
  absl::StatusOr<Checkpoint> cp = Checkpoint::Parse(opened->text);
  if (!cp.ok()) return cp.status();
  if (cp->origin != log_key.name()) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint: origin \"", cp->origin,
                                                   "\" != log key name \"", log_key.name(), "\""));
  }
  // An empty tree has exactly one root; any other is a false statement.
  if (cp->size == 0 && cp->root != Hasher::EmptyRoot()) {
    return absl::InvalidArgumentError(
        "checkpoint: size 0 with a root other than the empty tree's (SHA-256 of nothing)");
  }
  out.checkpoint = *std::move(cp);
  out.note = *std::move(opened);
  return out;
}

}  // namespace infratrail
