// What the infratrail CLI's subcommands share: the connection flags, the
// mapping from errors to exit codes (cli_util.h has the codes, and what
// needs no connection).
#ifndef INFRATRAIL_CLIENT_CLI_COMMON_H_
#define INFRATRAIL_CLIENT_CLI_COMMON_H_

#include <iosfwd>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/cli_util.h"
#include "client/log_client.h"

namespace infratrail::cli {

struct ConnectionFlags {
  std::string server = "127.0.0.1:7400";
  std::string token;  // --token or $INFRATRAIL_TOKEN
  std::string token_file;
  bool tls = false;
  std::string tls_ca, tls_cert, tls_key, tls_server_name;
  std::string log_key;         // verifier key or @file
  std::string witness_policy;  // C2SP tlog-policy file
  // Whether checkpoints will be verified: a log key, given or from the
  // policy's log line (Connect refuses a policy without exactly one).
  bool verifies() const { return !log_key.empty() || !witness_policy.empty(); }
  std::string timeout = "30s";
  std::string retry_for = "60s";
};

// Adds --server, --token, --token-file, --tls*, --log-key,
// --witness-policy, --timeout, --retry-for.
void AddConnectionFlags(CLI::App* cmd, ConnectionFlags* flags);

// Adds --tls, --tls-ca, --tls-cert, --tls-key and --tls-server-name alone
// (AddConnectionFlags adds them too), for commands that need no log key.
void AddTlsFlags(CLI::App* cmd, ConnectionFlags* flags);

// Sets `opts`' target and transport (tls*) from --server (one address, or
// several comma-separated) and the --tls* flags; any --tls-* flag implies
// --tls. InvalidArgument naming the flag.
absl::Status SetTransport(const ConnectionFlags& flags, LogClientOptions* opts);

// A LogClient for the flags; InvalidArgument naming the flag. Retries are
// announced once on `err` (a silent 60 s wait looks like a hang).
absl::StatusOr<std::unique_ptr<LogClient>> Connect(const ConnectionFlags& flags, std::ostream& err,
                                                   absl::string_view command);

// 1 for a verification failure; 2 for a refused argument or input
// (InvalidArgument, OutOfRange, NotFound, FailedPrecondition); 3 otherwise.
int ExitCodeFor(const absl::Status& status);

}  // namespace infratrail::cli

#endif  // INFRATRAIL_CLIENT_CLI_COMMON_H_
