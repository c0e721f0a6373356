// `infratrail health` with one server and with several (a leader and its
// standbys): a line per server, and the best answer decides the exit code.
// The servers here run gRPC's default health service, which reports the
// whole server ("") SERVING; the real server's answers are tested in
// tests/server/health_cli_e2e_test.cc.
#include "client/health_command.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/cli_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "infratrail/v1/log.grpc.pb.h"

namespace infratrail::cli {
namespace {

using ::testing::HasSubstr;

// A gRPC server on a loopback port with the default health service (gRPC
// adds it to a server with at least one synchronous service: a Log whose
// every method is UNIMPLEMENTED).
class HealthServer {
 public:
  HealthServer() {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&log_);
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    target_ = absl::StrCat("127.0.0.1:", port);
  }
  ~HealthServer() { server_->Shutdown(); }
  const std::string& target() const { return target_; }

 private:
  v1::Log::Service log_;
  std::unique_ptr<grpc::Server> server_;
  std::string target_;
};

// A server that has stopped: nothing listens on its port any more.
std::string StoppedServer() {
  HealthServer s;
  return s.target();
}

class HealthCommandTest : public ::testing::Test {
 protected:
  int Run(const std::string& servers, const std::string& service = "") {
    HealthArgs args;
    args.conn.server = servers;
    args.service = service;
    args.timeout_ms = 2000;
    std::ostringstream out, err;
    const int rc = RunHealth(args, out, err);
    out_ = out.str();
    err_ = err.str();
    return rc;
  }

  HealthServer up_;
  std::string out_, err_;
};

TEST_F(HealthCommandTest, SeveralServersGetALineEachAndAnyServingIsHealthy) {
  const std::string down = StoppedServer();
  EXPECT_EQ(Run(absl::StrCat(down, ",", up_.target())), kExitOk) << err_;
  EXPECT_EQ(out_, absl::StrCat(down, " server: NO_ANSWER\n", up_.target(), " server: SERVING\n"));
  EXPECT_THAT(err_, HasSubstr(absl::StrCat("health: ", down, ": no answer")));
  // One server: its status alone, as ever.
  EXPECT_EQ(Run(up_.target()), kExitOk) << err_;
  EXPECT_EQ(out_, "server: SERVING\n");
}

TEST_F(HealthCommandTest, SeveralServersNotServingExitOneNoneAnsweringThree) {
  const std::string down = StoppedServer();
  EXPECT_EQ(Run(absl::StrCat(up_.target(), ",", down), "no.such.Service"), kExitVerify);
  EXPECT_EQ(out_, absl::StrCat(up_.target(), " no.such.Service: SERVICE_UNKNOWN\n", down,
                               " no.such.Service: NO_ANSWER\n"));
  EXPECT_EQ(Run(absl::StrCat(down, ",", StoppedServer())), kExitServer);
}

TEST_F(HealthCommandTest, BadServerListExitsTwoNamingTheFlag) {
  EXPECT_EQ(Run(absl::StrCat(up_.target(), ",,", up_.target())), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--server: an empty name"));
  EXPECT_EQ(Run(absl::StrCat(up_.target(), ",", up_.target())), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("listed twice"));
  EXPECT_EQ(out_, "");
}

}  // namespace
}  // namespace infratrail::cli
