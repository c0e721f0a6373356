// `infratrail-verifier policy check FILE` and `policy test --policy FILE
// --events FILE.jsonl`: what a policy author needs to write rules and try
// them on events before the monitor runs them (docs/policy.md).
#ifndef INFRATRAIL_VERIFIER_POLICY_COMMAND_H_
#define INFRATRAIL_VERIFIER_POLICY_COMMAND_H_

#include <iosfwd>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace infratrail {

struct PolicyArgs {
  CLI::App* check = nullptr;
  CLI::App* test = nullptr;
  std::string check_file;
  std::string policy;
  std::string events;  // "-": standard input
  std::vector<std::string> sign_keys;
  std::string origin = "policy-test";
};

// Adds `check` and `test` under `policy`.
void AddPolicyCommands(CLI::App* policy, PolicyArgs* args);

// check: 0 valid, 2 invalid (the error on `err`, FILE:LINE:COLUMN first).
// test: the findings as the monitor's JSON lines on `out`, `index` = line
// number - 1; 0 no ALERT, 1 at least one ALERT, 2 usage (a bad policy, an
// unreadable events file, a line that is not a proto3-JSON InfraEvent).
int RunPolicy(const PolicyArgs& args, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_POLICY_COMMAND_H_
