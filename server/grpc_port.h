// The gRPC port of infratrail-server against hostile clients: transport
// settings, credentials that authenticate writers before a request is read,
// the descriptor budget, and libprotobuf's log. Each limit, its flag, its
// default and what a client sees when it is hit are in docs/operations.md,
// "Limits and hostile clients".
//
// For infratrail-server only (server.cc owns the process: rlimits,
// protobuf's log handler).
#ifndef INFRATRAIL_SERVER_GRPC_PORT_H_
#define INFRATRAIL_SERVER_GRPC_PORT_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/log_service.h"
#include "server/metrics.h"
#include "server/writer_auth.h"

namespace CLI {
class App;
}

namespace infratrail {

struct GrpcLimits {
  int max_connections = 4096;  // beyond the descriptors held at start; 0: only the rlimit
  int max_streams_per_connection = 100;
  int idle_timeout_s = 120;      // no call in flight that long: GOAWAY and close
  int keepalive_s = 60;          // pings while calls are in flight; unanswered 20 s: close
  int handshake_timeout_s = 10;  // TLS, HTTP/2 preface and SETTINGS
  LogServiceLimits service;      // GetEntries streams
};

// Registers the --grpc-* limit flags on `app`, writing into `limits`.
void AddGrpcLimitFlags(CLI::App& app, GrpcLimits& limits);

struct TlsFiles {
  std::string cert, key, client_ca;  // all empty: plaintext
};

// Credentials for the gRPC port: TLS from `tls` (InvalidArgument naming the
// flag of a file that cannot be read, or of a missing half of the pair),
// else plaintext, either way with `auth` refusing AddEvents calls from their
// metadata (writer_auth.h), counted in metrics->grpc_writes_refused_before_read.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsFiles& tls,
                                                                               WriterAuth* auth,
                                                                               Metrics* metrics);

// Transport settings, message size and interceptors for `limits`.
void ApplyGrpcLimits(const GrpcLimits& limits, grpc::ServerBuilder& builder);

// The process's descriptor limit, raised from `soft_before` to `hard` if
// it could be.
struct DescriptorLimit {
  uint64_t soft_before = 0;
  uint64_t soft = 0;
  uint64_t hard = 0;
};
DescriptorLimit RaiseDescriptorLimit();

// Descriptor numbers from which gRPC connections are refused at accept
// (accept_gate.h): `limit` less a reserve of a quarter (64..4096) for the
// server's own files, and no more than max_connections beyond the `base`
// descriptors the server held before it started listening.
int GrpcDescriptorCap(const GrpcLimits& limits, int limit, int base);

// Sends libprotobuf's log lines to `say`, at most 10 a minute; the number
// suppressed is appended to the next line let through.
void RouteProtobufLogs(std::function<void(absl::string_view)> say);

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_GRPC_PORT_H_
