// `infratrail health`: asks a server's standard gRPC health service
// (grpc.health.v1.Health/Check) about one service, for container
// HEALTHCHECKs, scripts and operators. One line on stdout,
// "<service>: <status>" ("server" for the whole server, service "").
//
// Exit codes, in the CLI's convention (docs/client.md): 0 SERVING; 1 the
// server answered and the service is not serving (NOT_SERVING, UNKNOWN, or
// a service the server does not know); 2 bad flags; 3 no answer (the server
// is unreachable, the deadline passed, or it does not serve the health
// service).
//
// With several servers (--server A,B,C: a leader and its standbys), each
// is asked in turn and gets a line "<address> <service>: <status>"
// (NO_ANSWER when it did not answer); the exit code is the best of theirs,
// so 0 when any serves the service (for infratrail.v1.Log: the leader
// accepts writes).
#ifndef INFRATRAIL_CLIENT_HEALTH_COMMAND_H_
#define INFRATRAIL_CLIENT_HEALTH_COMMAND_H_

#include <cstdint>
#include <iosfwd>
#include <string>

#include "CLI/CLI.hpp"
#include "client/cli_common.h"

namespace infratrail::cli {

struct HealthArgs {
  ConnectionFlags conn;  // --server and the --tls* flags only
  // "" asks about the server as a whole; infratrail-server also reports
  // "infratrail.v1.Log" (writes accepted) and "infratrail.v1.Log/publication"
  // (checkpoints published with their witness quorum).
  std::string service;
  int64_t timeout_ms = 2000;  // the one attempt's deadline; no retries
};

// Registers `health` on `app`, filling `args`.
CLI::App* AddHealthCommand(CLI::App* app, HealthArgs* args);

// One Check call per server; the exit code above.
int RunHealth(const HealthArgs& args, std::ostream& out, std::ostream& err);

}  // namespace infratrail::cli

#endif  // INFRATRAIL_CLIENT_HEALTH_COMMAND_H_
