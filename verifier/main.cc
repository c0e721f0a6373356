// infratrail-verifier: checks what a log hands out, with nothing but the
// log's public key and a witness policy.
//
//   infratrail-verifier selfcheck
//   infratrail-verifier verify --log-key VKEY --proof FILE.tlog-proof
//                              (--entry FILE | --leaf-hash BASE64)
//                              [--witness VKEY]... [--witness-threshold K]
//   infratrail-verifier verify [--log-key VKEY] --witness-policy POLICY
//                              --proof FILE.tlog-proof (--entry FILE | --leaf-hash BASE64)
//
// POLICY is a C2SP tlog-policy (docs/formats.md); without --log-key its
// log line gives the key (its only one, or the one whose name is the
// receipt's origin).
// FILE "-" is standard input (for one of --proof and --entry). Exit codes
// (client/cli_util.h): 0 verified, 1 verification failed, 2 usage error or
// unreadable input (missing, a directory, or larger than its limit: receipts
// 1 MiB + 64 KiB, entries 16 MiB, key files 64 KiB).
#include <cstddef>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cli_util.h"
#include "client/key_arg.h"
#include "core/tlog_policy.h"
#include "core/tlog_proof.h"
#include "core/witness_policy.h"
#include "verifier/limits.h"
#include "verifier/monitor/monitor_command.h"
#include "verifier/monitor/tlog_policy_file.h"
#include "verifier/policy_command.h"
#include "verifier/selfcheck.h"
#include "verifier/witness/witness_command.h"

namespace infratrail {
namespace {

using cli::kExitOk;
using cli::kExitUsage;
using cli::kExitVerify;

// Reads `path` for `flag`; on failure prints why (the path, and the limit if
// that is the reason) and returns false.
bool ReadInput(absl::string_view flag, const std::string& path, size_t max_bytes,
               std::string* out) {
  absl::StatusOr<std::string> data = cli::ReadFileArg(path, flag, max_bytes);
  if (!data.ok()) {
    std::cerr << "verify: " << data.status().message() << "\n";
    return false;
  }
  *out = *std::move(data);
  return true;
}

struct VerifyArgs {
  std::string log_key;
  std::string proof_file;
  std::string entry_file;
  std::string leaf_hash;
  std::vector<std::string> witnesses;
  size_t threshold = 0;
  std::string witness_policy;
};

int RunVerify(const VerifyArgs& a) {
  auto usage = [](absl::string_view msg) {
    std::cerr << "verify: " << msg << "\n";
    return kExitUsage;
  };
  if (a.proof_file == "-" && a.entry_file == "-") {
    return usage("--proof and --entry: only one can be standard input (-)");
  }
  std::shared_ptr<const TlogPolicy> tlog_policy;
  if (!a.witness_policy.empty()) {
    if (!a.witnesses.empty() || a.threshold > 0) {
      return usage(
          "--witness-policy gives the witnesses and the quorum: not with --witness or "
          "--witness-threshold");
    }
    absl::StatusOr<std::shared_ptr<const TlogPolicy>> p =
        LoadTlogPolicyFile(a.witness_policy, "--witness-policy");
    if (!p.ok()) return usage(p.status().message());
    tlog_policy = *std::move(p);
  }
  std::optional<NoteVerifier> log_key;
  if (!a.log_key.empty()) {
    absl::StatusOr<NoteVerifier> k = ParseVerifierKeyArg(a.log_key, "--log-key");
    if (!k.ok()) return usage(k.status().message());
    if (tlog_policy != nullptr) {
      absl::Status s =
          CheckPolicyLists(*tlog_policy, *k, absl::StrCat("--witness-policy ", a.witness_policy));
      if (!s.ok()) return usage(s.message());
    }
    log_key = *k;
  } else if (tlog_policy == nullptr) {
    return usage("--log-key is required (or a --witness-policy with the log's line)");
  }
  WitnessPolicy policy;
  if (tlog_policy != nullptr) {
    policy = WitnessPolicy::FromTlogPolicy(tlog_policy);
  } else {
    std::vector<NoteVerifier> witnesses;
    for (const std::string& w : a.witnesses) {
      absl::StatusOr<NoteVerifier> v = ParseVerifierKeyArg(w, absl::StrCat("--witness ", w));
      if (!v.ok()) return usage(v.status().message());
      witnesses.push_back(*v);
    }
    absl::StatusOr<WitnessPolicy> p = WitnessPolicy::Create(witnesses, a.threshold);
    if (!p.ok()) return usage(absl::StrCat("--witness-threshold: ", p.status().message()));
    policy = *std::move(p);
  }
  Hash leaf;
  if (!a.entry_file.empty()) {
    std::string entry;
    if (!ReadInput("--entry", a.entry_file, kMaxEntryFileBytes, &entry)) return kExitUsage;
    leaf = HashLeaf(entry);
  } else {
    absl::StatusOr<Hash> h = HashFromBase64(a.leaf_hash, "--leaf-hash");
    if (!h.ok()) {
      std::cerr << "verify: " << h.status().message() << "\n";
      return kExitUsage;
    }
    leaf = *h;
  }
  std::string text;
  if (!ReadInput("--proof", a.proof_file, kMaxReceiptBytes, &text)) return kExitUsage;
  absl::StatusOr<TlogProof> proof = TlogProof::Parse(text);
  if (!proof.ok()) {
    std::cerr << "verify: " << a.proof_file << ": " << proof.status().message() << "\n";
    return kExitVerify;
  }
  if (!log_key.has_value()) {
    // The policy's log: its only one, or the one named as the receipt's
    // checkpoint's origin (its first line).
    const absl::string_view origin =
        absl::string_view(proof->checkpoint).substr(0, proof->checkpoint.find('\n'));
    absl::StatusOr<NoteVerifier> k = LogKeyFromPolicy(
        *tlog_policy, origin,
        absl::StrCat("--log-key not given, and --witness-policy ", a.witness_policy));
    if (!k.ok()) return usage(k.status().message());
    log_key = *k;
  }
  absl::StatusOr<VerifiedCheckpoint> v = VerifyTlogProof(*proof, leaf, *log_key, policy);
  if (!v.ok()) {
    std::cerr << "verify: " << a.proof_file << ": FAILED: " << v.status().message() << "\n";
    return kExitVerify;
  }
  std::cout << "verified: entry " << proof->index << " is in " << v->checkpoint.origin
            << " at tree size " << v->checkpoint.size << " (root "
            << HashToBase64(v->checkpoint.root) << "), cosigned by " << v->witness_count
            << " witness(es)"
            << (v->witness_names.empty()
                    ? std::string()
                    : absl::StrCat(": ", absl::StrJoin(v->witness_names, ", ")))
            << "\n";
  return kExitOk;
}

int Main(int argc, char** argv) {
  CLI::App app{"infratrail-verifier: verify infratrail (and other C2SP) transparency logs"};
  app.require_subcommand(1);
  CLI::App* selfcheck = app.add_subcommand("selfcheck", "Check this build against known answers");
  CLI::App* verify = app.add_subcommand("verify", "Verify a .tlog-proof receipt offline");
  CLI::App* monitor =
      app.add_subcommand("monitor", "Follow a log: re-check every checkpoint, entry and tile");
  MonitorArgs ma;
  AddMonitorFlags(monitor, &ma);
  CLI::App* policy =
      app.add_subcommand("policy", "Write and try event policies (check, test): docs/policy.md");
  PolicyArgs pa;
  AddPolicyCommands(policy, &pa);
  CLI::App* witness = app.add_subcommand(
      "witness", "Run a C2SP tlog-witness (witness keygen makes its key): docs/witness.md");
  WitnessArgs wa;
  AddWitnessCommands(witness, &wa);
  VerifyArgs va;
  verify->add_option("--log-key", va.log_key,
                     "Log verifier key (or @file); default: the --witness-policy's log line (its "
                     "only one, or the one named as the receipt's origin)");
  verify->add_option("--proof", va.proof_file, "Receipt file (.tlog-proof); - for stdin")
      ->required();
  CLI::Option* entry =
      verify->add_option("--entry", va.entry_file, "File with the entry bytes; - for stdin");
  CLI::Option* leaf = verify->add_option("--leaf-hash", va.leaf_hash, "Leaf hash, base64");
  entry->excludes(leaf);
  verify->add_option("--witness", va.witnesses, "Witness verifier key (or @file); repeatable");
  verify->add_option("--witness-threshold", va.threshold, "Witness cosignatures required");
  verify->add_option("--witness-policy", va.witness_policy,
                     "C2SP tlog-policy file: the witnesses and quorum the checkpoint must meet "
                     "(not with --witness or --witness-threshold)");
  try {
    app.parse(argc, argv);
    if (verify->parsed() && entry->count() + leaf->count() != 1) {
      throw CLI::RequiredError("verify: one of --entry or --leaf-hash");
    }
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (selfcheck->parsed()) return RunSelfCheck(std::cout) ? kExitOk : kExitVerify;
  if (monitor->parsed()) return RunMonitor(ma);
  if (policy->parsed()) return RunPolicy(pa, std::cin, std::cout, std::cerr);
  if (wa.keygen->parsed()) return RunWitnessKeygen(wa, std::cout, std::cerr);
  if (witness->parsed()) return RunWitness(wa, std::cout, std::cerr);
  return RunVerify(va);
}

}  // namespace
}  // namespace infratrail

int main(int argc, char** argv) {
  try {
    return infratrail::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "infratrail-verifier: " << e.what() << "\n";
    return infratrail::cli::kExitUsage;
  }
}
