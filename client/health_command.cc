#include "client/health_command.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/log_client.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace infratrail::cli {
namespace {

using grpc::health::v1::HealthCheckResponse;

// The name printed for `service`: the whole server has none.
std::string ServiceLabel(const std::string& service) {
  return service.empty() ? "server" : service;
}

// What one server said.
struct Answer {
  int exit_code = kExitServer;
  std::string status;  // a ServingStatus name, SERVICE_UNKNOWN or NO_ANSWER
  std::string error;   // for stderr, if any
};

// One Check call of `server` over `channel`.
Answer CheckOne(const HealthArgs& args, const std::string& server,
                std::shared_ptr<grpc::Channel> channel) {
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(args.service);
  HealthCheckResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(args.timeout_ms));
  const grpc::Status rpc =
      grpc::health::v1::Health::NewStub(std::move(channel))->Check(&ctx, req, &resp);
  if (rpc.error_code() == grpc::StatusCode::NOT_FOUND) {
    return Answer{kExitVerify, "SERVICE_UNKNOWN",
                  absl::StrCat(server, " does not know the service \"", args.service, "\"")};
  }
  if (!rpc.ok()) {
    return Answer{
        kExitServer, "NO_ANSWER",
        absl::StrCat(server, ": no answer within ", args.timeout_ms, " ms: ", rpc.error_message(),
                     " (gRPC code ", static_cast<int>(rpc.error_code()), ")")};
  }
  return Answer{resp.status() == HealthCheckResponse::SERVING ? kExitOk : kExitVerify,
                HealthCheckResponse::ServingStatus_Name(resp.status()), ""};
}

}  // namespace

CLI::App* AddHealthCommand(CLI::App* app, HealthArgs* args) {
  CLI::App* cmd = app->add_subcommand(
      "health",
      "Ask a server's gRPC health service (grpc.health.v1.Health/Check) whether a service is "
      "SERVING; exit 0 serving, 1 not serving or unknown service, 3 no answer");
  cmd->add_option("--server", args->conn.server,
                  "gRPC address HOST:PORT, or several (A,B,C): each is asked, one line each, and "
                  "the exit code is the best answer (0 if any serves the service)")
      ->capture_default_str();
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
  std::vector<std::string> servers;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  if (absl::StatusOr<std::vector<std::string>> split = SplitLogTarget(opts.target);
      st.ok() && split.ok()) {
    servers = *std::move(split);
  }
  for (size_t i = 0; st.ok() && i < servers.size(); ++i) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = CreateLogChannel(opts, servers[i]);
    st = channel.status();
    if (channel.ok()) channels.push_back(*std::move(channel));
  }
  if (!st.ok()) {
    err << "health: " << st.message() << "\n";
    return kExitUsage;
  }
  // One server: its answer. Several: a line each, prefixed with its
  // address, and the best answer decides (the log is healthy if any of its
  // servers serves the service).
  const bool several = servers.size() > 1;
  int best = kExitServer;
  for (size_t i = 0; i < servers.size(); ++i) {
    const Answer answer = CheckOne(args, servers[i], channels[i]);
    if (several || answer.exit_code != kExitServer) {
      out << (several ? servers[i] + " " : "") << ServiceLabel(args.service) << ": "
          << answer.status << "\n";
    }
    if (!answer.error.empty()) err << "health: " << answer.error << "\n";
    if (answer.exit_code == kExitOk || (answer.exit_code == kExitVerify && best != kExitOk)) {
      best = answer.exit_code;
    }
  }
  return best;
}

}  // namespace infratrail::cli
