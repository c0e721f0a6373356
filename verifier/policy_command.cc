#include "verifier/policy_command.h"

#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/cli_util.h"
#include "client/emitter_signature.h"
#include "client/event_flags.h"
#include "client/event_json.h"
#include "client/key_arg.h"
#include "core/hash.h"
#include "verifier/monitor/log_monitor.h"
#include "verifier/policy/load_policy.h"

namespace infratrail {
namespace {

using cli::kExitOk;
using cli::kExitUsage;
using cli::kExitVerify;

int Check(const PolicyArgs& a, std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::unique_ptr<Policy>> p = LoadPolicy(a.check_file);
  if (!p.ok()) {
    err << p.status().message() << "\n";
    return kExitUsage;
  }
  out << a.check_file << ": ok, " << (*p)->rule_count() << " rule(s)\n";
  return kExitOk;
}

int Test(const PolicyArgs& a, std::istream& in, std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::unique_ptr<Policy>> p = LoadPolicy(a.policy);
  if (!p.ok()) {
    err << "policy test: --policy " << p.status().message() << "\n";
    return kExitUsage;
  }
  std::vector<NoteSigner> signers;
  for (const std::string& k : a.sign_keys) {
    absl::StatusOr<NoteSigner> s = ReadSignerKeyFile(k, "--sign-key");
    if (!s.ok()) {
      err << "policy test: " << s.status().message() << "\n";
      return kExitUsage;
    }
    signers.push_back(*std::move(s));
  }
  std::ifstream file;
  std::istream* events = &in;
  if (a.events != "-") {
    file.open(a.events, std::ios::binary);
    if (!file) {
      err << "policy test: --events " << a.events << ": cannot be read\n";
      return kExitUsage;
    }
    events = &file;
  }
  const std::string name = a.events == "-" ? std::string("<stdin>") : a.events;
  PolicyState state;
  Hasher hasher;
  v1::InfraEvent event;
  std::vector<PolicyViolation> violations;
  std::string line;
  uint64_t seq = 0;
  bool alert = false;
  for (uint64_t n = 1; std::getline(*events, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (absl::Status s = ParseEventJson(line, &event); !s.ok()) {
      err << "policy test: " << name << ":" << n << ": not an InfraEvent: " << s.message() << "\n";
      return kExitUsage;
    }
    std::string bytes = SerializeEvent(event);
    for (const NoteSigner& signer : signers) {
      absl::StatusOr<std::string> signed_bytes = SignEvent(bytes, signer);
      if (!signed_bytes.ok()) {
        err << "policy test: " << name << ":" << n << ": --sign-key "
            << signed_bytes.status().message() << "\n";
        return kExitUsage;
      }
      bytes = *std::move(signed_bytes);
    }
    if (!signers.empty() && !event.ParseFromString(bytes)) {
      err << "policy test: " << name << ":" << n << ": signed event does not parse\n";
      return kExitUsage;
    }
    const Hash leaf = hasher.HashLeaf(bytes);
    PolicyEvent pe;
    pe.index = n - 1;
    pe.leaf_hash = &leaf;
    pe.entry = bytes;
    pe.event = &event;
    violations.clear();
    if (absl::Status s = (*p)->Evaluate(pe, &state, &violations); !s.ok()) {
      err << "policy test: " << name << ":" << n << ": not evaluated: " << s.message() << "\n";
      return kExitUsage;
    }
    for (const PolicyViolation& v : violations) {
      Finding f = PolicyFinding(v, pe, a.origin);
      f.seq = ++seq;
      alert |= f.severity == Severity::kAlert;
      out << f.ToJson().dump() << "\n";
    }
  }
  if (events->bad()) {
    err << "policy test: " << name << ": read error\n";
    return kExitUsage;
  }
  for (const std::string& m : (*p)->TakeOperational()) err << "policy test: " << m << "\n";
  return alert ? kExitVerify : kExitOk;
}

}  // namespace

void AddPolicyCommands(CLI::App* policy, PolicyArgs* a) {
  policy->require_subcommand(1);
  a->check = policy->add_subcommand(
      "check", "Validate a policy file: exit 0 valid, 2 invalid (FILE:LINE:COLUMN: why)");
  a->check->add_option("file", a->check_file, "The policy (YAML)")->required();
  a->test = policy->add_subcommand(
      "test",
      "Evaluate a policy over proto3-JSON event lines (the `infratrail add` input) and print the "
      "findings as the monitor would: exit 0 no ALERT, 1 an ALERT, 2 usage");
  a->test->add_option("--policy", a->policy, "The policy (YAML)")->required();
  a->test->add_option("--events", a->events, "Events, one JSON object per line; - for stdin")
      ->required();
  a->test->add_option("--sign-key", a->sign_keys,
                      "Sign every event with this emitter key file first (repeatable), to try "
                      "signature requirements");
  a->test->add_option("--origin", a->origin, "The origin findings name")->capture_default_str();
}

int RunPolicy(const PolicyArgs& a, std::istream& in, std::ostream& out, std::ostream& err) {
  if (a.check != nullptr && a.check->parsed()) return Check(a, out, err);
  return Test(a, in, out, err);
}

}  // namespace infratrail
