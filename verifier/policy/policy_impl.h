// The compiled form of a policy: what the loader (policy_loader.cc) builds
// and Evaluate (policy.cc) runs. Internal to infratrail_policy.
#ifndef INFRATRAIL_VERIFIER_POLICY_POLICY_IMPL_H_
#define INFRATRAIL_VERIFIER_POLICY_POLICY_IMPL_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/hash.h"
#include "core/note_key.h"
#include "verifier/policy/digest_allowlist.h"
#include "verifier/policy/glob.h"
#include "verifier/policy/policy.h"

namespace infratrail {
namespace policy_internal {

struct SignatureRequirement {
  std::vector<NoteVerifier> keys;  // distinct (name, key ID)
  size_t at_least = 0;
};

struct RepoRequirement {
  std::string repository;
  std::string clone;  // resolved against the policy's directory
  std::string ref;
  std::optional<std::string> declares_resource;
  RepoChecker* checker = nullptr;  // owned by PolicyImpl, shared per (clone, ref)
};

// A field of the event a rule matches by globs: absent when the rule does
// not constrain it.
struct GlobMatch {
  bool given = false;
  GlobSet globs;
};

struct CompiledRule {
  std::string id;
  PolicySeverity severity = PolicySeverity::kAlert;
  std::string description;

  // match: bit k set = EventKind/Channel k matches; 0 = not constrained.
  uint64_t kinds = 0;
  uint64_t vias = 0;
  GlobMatch provider, type, resource_id, actor;

  // require, in evaluation (and reporting) order.
  bool justification = false;
  bool ticket = false;
  uint64_t require_vias = 0;  // 0 = no requirement
  std::string require_vias_text;
  GlobMatch require_actor;
  DigestAllowlist* digests = nullptr;  // owned by PolicyImpl, shared per file
  std::optional<SignatureRequirement> signatures;
  std::optional<RepoRequirement> source_in_repo;
  bool deprovision_follows_provision = false;
  bool notify = false;
};

struct Exception {
  size_t rule = 0;                         // index into rules
  std::optional<std::string> requirement;  // absent: every requirement
  std::string reason;
};

class PolicyImpl : public Policy {
 public:
  absl::Status Evaluate(const PolicyEvent& e, PolicyState* state,
                        std::vector<PolicyViolation>* out) override;
  std::vector<std::string> TakeOperational() override;
  size_t rule_count() const override { return rules_.size(); }
  uint64_t suppressed() const override { return suppressed_; }

  // Filled by the loader.
  PolicyOptions options_;
  std::vector<CompiledRule> rules_;
  std::vector<std::unique_ptr<DigestAllowlist>> allowlists_;
  std::vector<std::unique_ptr<RepoChecker>> repos_;
  absl::flat_hash_map<Hash, std::vector<Exception>> exceptions_;

 private:
  // Appends the violations of `rule` for `e` to `out`; an error only from a
  // RepoChecker.
  absl::Status EvaluateRule(size_t index, const PolicyEvent& e, const PolicyState& state,
                            std::vector<PolicyViolation>* out, uint64_t* suppressed);
  // Whether an exception covers (leaf, rule, requirement).
  bool Excepted(const PolicyEvent& e, size_t rule, absl::string_view requirement) const;
  const std::array<uint8_t, 16>& ResourceKey(const v1::InfraEvent& ev);

  Hasher hasher_;
  uint64_t suppressed_ = 0;
  std::vector<std::string> operational_;
  // Per Evaluate: the event's resource key, computed at most once.
  bool key_ready_ = false;
  std::array<uint8_t, 16> key_{};
  // Per Evaluate: the clock, read at most once, and only for digest rules.
  std::optional<absl::Time> now_;
};

// The text that declares the resource a Terraform address names
// (`module.net.aws_subnet.private["a"]` -> `"aws_subnet" "private"`, as in
// `resource "aws_subnet" "private" {` laid out by `terraform fmt`); nullopt
// when `address` is not one.
std::optional<std::string> TerraformDeclaration(absl::string_view address);

// The resource key of `ev`: the first 16 bytes of SHA-256(provider \0 type
// \0 id), each field with \x01 written \x01\x01 and \0 written \x01\x02 (so
// the \0s are separators only; fields without either are unchanged).
std::array<uint8_t, 16> ResourceKeyOf(Hasher* hasher, const v1::InfraEvent& ev);

}  // namespace policy_internal
}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_POLICY_POLICY_IMPL_H_
