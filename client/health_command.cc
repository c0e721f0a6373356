#include "client/health_command.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <ostream>

#include "client/log_client.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace infratrail::cli {
namespace {

using grpc::health::v1::HealthCheckResponse;

// The name printed for `service`: the whole server has none.
std::string ServiceLabel(const std::string& service) {
  return service.empty() ? "server" : service;
}

}  // namespace

CLI::App* AddHealthCommand(CLI::App* app, HealthArgs* args) {
  CLI::App* cmd = app->add_subcommand(
      "health",
      "Ask a server's gRPC health service (grpc.health.v1.Health/Check) whether a service is "
      "SERVING; exit 0 serving, 1 not serving or unknown service, 3 no answer");
  cmd->add_option("--server", args->conn.server, "gRPC address HOST:PORT")->capture_default_str();
  cmd->add_option("--service", args->service,
                  "Service to ask about: \"\" (the server), infratrail.v1.Log (writes accepted) "
                  "or infratrail.v1.Log/publication (witnessed checkpoints published)");
  cmd->add_option("--timeout-ms", args->timeout_ms, "Deadline of the call, in milliseconds")
      ->check(CLI::Range(int64_t{1}, int64_t{3'600'000}))
      ->capture_default_str();
  AddTlsFlags(cmd, &args->conn);
  return cmd;
}

int RunHealth(const HealthArgs& args, std::ostream& out, std::ostream& err) {
  LogClientOptions opts;
  absl::Status st = SetTransport(args.conn, &opts);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      st.ok() ? CreateLogChannel(opts) : absl::StatusOr<std::shared_ptr<grpc::Channel>>(st);
  if (!channel.ok()) {
    err << "health: " << channel.status().message() << "\n";
    return kExitUsage;
  }
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(args.service);
  HealthCheckResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(args.timeout_ms));
  const grpc::Status rpc =
      grpc::health::v1::Health::NewStub(*std::move(channel))->Check(&ctx, req, &resp);
  const std::string label = ServiceLabel(args.service);
  if (rpc.error_code() == grpc::StatusCode::NOT_FOUND) {
    out << label << ": SERVICE_UNKNOWN\n";
    err << "health: " << args.conn.server << " does not know the service \"" << args.service
        << "\"\n";
    return kExitVerify;
  }
  if (!rpc.ok()) {
    err << "health: " << args.conn.server << ": no answer within " << args.timeout_ms
        << " ms: " << rpc.error_message() << " (gRPC code " << rpc.error_code() << ")\n";
    return kExitServer;
  }
  out << label << ": " << HealthCheckResponse::ServingStatus_Name(resp.status()) << "\n";
  return resp.status() == HealthCheckResponse::SERVING ? kExitOk : kExitVerify;
}

}  // namespace infratrail::cli
