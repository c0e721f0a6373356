// `infratrail-verifier witness keygen` and `infratrail-verifier witness`: a
// C2SP tlog-witness server (docs/witness.md).
#ifndef INFRATRAIL_VERIFIER_WITNESS_WITNESS_COMMAND_H_
#define INFRATRAIL_VERIFIER_WITNESS_WITNESS_COMMAND_H_

#include <iosfwd>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace infratrail {

struct WitnessArgs {
  CLI::App* witness = nullptr;
  CLI::App* keygen = nullptr;
  // keygen
  std::string name;
  std::string out;
  // serve
  std::string key;
  std::string state_dir;
  std::string listen = "127.0.0.1:7500";
  std::string logs;                    // the operator's own list (a file)
  std::vector<std::string> log_lists;  // files or http(s) URLs
  std::string public_url;
  double rate_per_log = 20;
  double burst_per_log = 40;
  int list_refresh_s = 900;
  unsigned max_connections = 0;
  unsigned max_connections_per_address = 64;
  std::string ca_file;
};

// Adds the witness's flags and its `keygen` subcommand.
void AddWitnessCommands(CLI::App* witness, WitnessArgs* args);

// keygen: writes the signer key (mode 0600, never over an existing file) and
// prints the cosignature/v1 verifier key. 0, or 2 for usage and I/O errors.
int RunWitnessKeygen(const WitnessArgs& args, std::ostream& out, std::ostream& err);

// Serves until SIGTERM/SIGINT (0). Prints one JSON line on `out` once
// listening: {"listening":"HOST:PORT","name":...,"vkey":...}. 2 for usage
// errors (flags, key file, the --logs file), 1 when the state cannot be
// read or written (a failed fsync stops the witness: restart to recover).
int RunWitness(const WitnessArgs& args, std::ostream& out, std::ostream& err);

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_WITNESS_WITNESS_COMMAND_H_
