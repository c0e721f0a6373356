// The auditor's event policy: rules over every InfraEvent of a log, loaded
// from a YAML file (docs/policy.md is the contract). A rule matches events by
// kind, resource and channel, and requires of them a justification, a
// ticket, a channel, an actor, an allowlisted artifact digest, emitter
// signatures by given keys, a commit in the public IaC repository, or an
// earlier PROVISION of what is deprovisioned; each failed requirement is one
// violation. `notify` rules report every match. `exceptions` silence known,
// accepted violations by leaf hash and rule.
//
// The file, in short (docs/policy.md is the reference):
//
//   version: 1                               # required
//   rules:                                   # at least one; ids unique
//     - id: access-needs-ticket
//       severity: ALERT                      # ALERT (default) | WARNING
//       description: free text               # optional
//       match:                               # every key given must match
//         kind: [ACCESS, BREAK_GLASS]        # EventKind names
//         resource_provider: [aws]           # globs (glob.h), any of
//         resource_type: ["postgres*"]
//         resource_id: ["prod-*"]
//         via: [CONSOLE]                     # Channel names
//         actor: ["alice*"]                  # actor.principal globs
//       require:                             # each failure: one violation
//         justification: true                # non-empty
//         ticket: true                       # non-empty
//         via: [IAC, CI]                     # actor.via one of
//         actor: ["oncall-*"]                # actor.principal matches one
//         artifact_digest_in: allowed.txt    # digest_allowlist.h
//         signatures: {keys: [vkey, "@file.vkey"], at_least: 2}
//         source_in_repo: {repository: URL, clone: DIR, ref: REF,
//                          declares_resource: terraform/}
//         deprovision_follows_provision: true
//       notify: true                         # a NOTICE for every match
//   exceptions:
//     - {leaf_hash: BASE64, rule: ID, requirement: ticket, reason: TEXT}
//
// A rule without `match` matches every event; a rule needs `require` or
// `notify`. A scalar where a list is expected is a list of one; lists are
// never empty. Requirements are checked, and reported, in the order above,
// then `notify`; rules in file order. `signatures` counts distinct
// configured keys with a verifying signature on the entry (`at_least`
// defaults to all of them; malformed signature records are a violation).
// `source_in_repo`: source.repository must equal `repository`,
// source.commit be non-empty and reachable from `ref` in the clone, and
// with `declares_resource` resource.id appear under that path at that
// commit; one violation with the first reason. `deprovision_follows_
// provision`: a DEPROVISION needs its (provider, type, id) in
// PolicyState::live. An exception silences one rule's violations of one
// event (all of them, or one `requirement`, "notify" included), counted in
// suppressed().
//
// Limits, each an InvalidArgument at load when exceeded: the policy file
// kMaxPolicyFileBytes, kMaxPolicyRules rules, kMaxPolicyExceptions
// exceptions, kMaxPolicyYamlNodes list items and map keys visited (aliases
// included, so an alias cannot make loading slow), an allowlist file
// kMaxDigestFileBytes (digest_allowlist.h), a key file 64 KiB.
//
// Thread-compatible: the monitor's main thread evaluates; one Policy serves
// every log, each log keeps its own PolicyState.
#ifndef INFRATRAIL_VERIFIER_POLICY_POLICY_H_
#define INFRATRAIL_VERIFIER_POLICY_POLICY_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/hash.h"
#include "infratrail/v1/event.pb.h"

namespace infratrail {

inline constexpr size_t kMaxPolicyFileBytes = size_t{1} << 20;
inline constexpr size_t kMaxPolicyRules = 1000;
inline constexpr size_t kMaxPolicyExceptions = 100000;
inline constexpr size_t kMaxPolicyYamlNodes = 2000000;

enum class PolicySeverity {
  kAlert,    // a requirement of a rule with severity ALERT (the default) failed
  kWarning,  // a requirement of a rule with severity WARNING failed
  kNotice,   // a `notify` rule matched
};
absl::string_view PolicySeverityName(PolicySeverity s);  // "ALERT", "WARNING", "NOTICE"

// One finding of the policy about one event.
struct PolicyViolation {
  std::string rule;  // the rule's id
  PolicySeverity severity = PolicySeverity::kAlert;
  // The requirement that failed, as named in the file ("ticket",
  // "source_in_repo", "deprovision_follows_provision", ...), or "notify".
  std::string requirement;
  // Why, naming the field and value: `ticket is empty`, `commit 3f2a... is
  // not reachable from refs/heads/main in /var/lib/.../infra`.
  std::string message;
};

// The event being evaluated. The references must outlive the call.
struct PolicyEvent {
  uint64_t index = 0;
  const Hash* leaf_hash = nullptr;  // RFC 9162 leaf hash of `entry`
  absl::string_view entry;          // the serialized InfraEvent, as logged
  const v1::InfraEvent* event = nullptr;
};

// What a log's rules remember between events: the resources that are live
// (PROVISIONed and not yet DEPROVISIONed), for
// `deprovision_follows_provision`. Updated by every event the policy sees,
// whichever rules it has. Part of the monitor's atomic state commit.
struct PolicyState {
  // The first 16 bytes of SHA-256(provider \0 type \0 id).
  absl::flat_hash_set<std::array<uint8_t, 16>> live;

  bool operator==(const PolicyState&) const = default;
  // Compact and deterministic (sorted): base64 of the concatenated keys.
  std::string Encode() const;
  // DataLoss for text Encode did not write.
  static absl::StatusOr<PolicyState> Decode(absl::string_view text);
};

// The auditor's clone of a public IaC repository, for `source_in_repo`.
// Implementations cache per commit. Errors: a commit that is not there, or
// not reachable, is a result (false with a reason), not an error; an error
// (Unavailable, DataLoss) means the clone could not be read and the event
// was not evaluated.
class RepoChecker {
 public:
  virtual ~RepoChecker() = default;
  struct Result {
    bool ok = false;
    std::string reason;  // when !ok: what is missing, naming the commit
  };
  // `commit` (full hex SHA-1 or SHA-256 object id, or an abbreviation of at
  // least 7 hex digits) exists in the clone and is reachable from the ref.
  virtual absl::StatusOr<Result> CommitReachable(absl::string_view commit) = 0;
  // `resource_id` appears, as a substring, in some file under `path` (a
  // directory prefix, "" for the whole tree) at `commit`.
  virtual absl::StatusOr<Result> Declares(absl::string_view commit, absl::string_view path,
                                          absl::string_view resource_id) = 0;
};

// Where a `source_in_repo` requirement points.
struct RepoSpec {
  std::string repository;  // source.repository must equal this
  std::string clone;       // path of the auditor's clone
  std::string ref;         // e.g. refs/heads/main
};

struct PolicyOptions {
  // Opens the clone of a `source_in_repo` requirement; called once per
  // distinct (clone, ref) at load. Without it, `source_in_repo` fails to
  // load (FailedPrecondition naming the rule).
  std::function<absl::StatusOr<std::unique_ptr<RepoChecker>>(const RepoSpec&)> open_repo;
  // How often an `artifact_digest_in` file is checked for changes (mtime,
  // size, inode); it is re-read when it changed.
  absl::Duration digest_recheck = absl::Seconds(1);
};

class Policy {
 public:
  // Parses and validates the file: InvalidArgument "FILE:LINE:COLUMN: KEY:
  // what is wrong" for malformed YAML, unknown keys, a bad glob, an unknown
  // kind or channel, a duplicate rule id, a digest file that cannot be read or
  // holds a bad line (named by its own FILE:LINE), a key that does not parse;
  // relative paths (digest files, @key files, clones) are relative to the
  // policy file's directory. KEY is the path to the value, such as
  // `rules[2].match.kind`. Also: FailedPrecondition (with the position)
  // for `source_in_repo` without options.open_repo; open_repo's own error,
  // with its code, prefixed by the position; InvalidArgument "FILE: ..."
  // (no position) when the policy file itself cannot be read.
  static absl::StatusOr<std::unique_ptr<Policy>> Load(const std::string& path,
                                                      const PolicyOptions& options);
  // The same for text; `name` stands for the file in errors and `dir` for
  // its directory.
  static absl::StatusOr<std::unique_ptr<Policy>> Parse(absl::string_view yaml,
                                                       const std::string& name,
                                                       const std::string& dir,
                                                       const PolicyOptions& options);
  virtual ~Policy() = default;

  // Evaluates every rule against `e`, appends its violations (in rule
  // order, then requirement order, exceptions removed) to `out` and updates
  // `state`. An error (a clone that cannot be read) leaves `state` and `out`
  // as they were: the event must be evaluated again later.
  virtual absl::Status Evaluate(const PolicyEvent& e, PolicyState* state,
                                std::vector<PolicyViolation>* out) = 0;

  // Problems met since the last call that are not about an event (an
  // allowlist that changed and could not be re-read: the old one stays in
  // force): for the operator, never findings.
  virtual std::vector<std::string> TakeOperational() = 0;

  virtual size_t rule_count() const = 0;
  // Violations silenced by `exceptions` so far.
  virtual uint64_t suppressed() const = 0;
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_POLICY_POLICY_H_
