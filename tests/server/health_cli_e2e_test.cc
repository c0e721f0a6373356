// `infratrail health` against the real server: the answer of the standard
// gRPC health service for the server, the log's write path and its
// publication, an unknown service, a log that stopped accepting writes (a
// disk below the reserve), and a server that is not there. Its exit codes
// are what the container image's HEALTHCHECK relies on (deploy/Dockerfile).
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/server/cli_fixture.h"

namespace infratrail::testing {
namespace {

using HealthCliTest = CliTest;

TEST_F(HealthCliTest, ServingServerAndServicesExitZero) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(Cli({"health", "--server", server->address()}), 0) << err_;
  EXPECT_EQ(out_, "server: SERVING\n");
  ASSERT_EQ(Cli({"health", "--server", server->address(), "--service", kLogService}), 0) << err_;
  EXPECT_EQ(out_, "infratrail.v1.Log: SERVING\n");
  ASSERT_EQ(Cli({"health", "--server", server->address(), "--service",
                 "infratrail.v1.Log/publication", "--timeout-ms", "5000"}),
            0)
      << err_;
  EXPECT_EQ(out_, "infratrail.v1.Log/publication: SERVING\n");
}

TEST_F(HealthCliTest, UnknownServiceExitsOne) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(Cli({"health", "--server", server->address(), "--service", "no.such.Service"}), 1);
  EXPECT_EQ(out_, "no.such.Service: SERVICE_UNKNOWN\n");
  EXPECT_NE(err_.find("does not know the service \"no.such.Service\""), std::string::npos) << err_;
}

TEST_F(HealthCliTest, LogNotAcceptingWritesExitsOneWhileTheServerStaysServing) {
  // A simulated disk that drops below the reserve once the server is up:
  // the log refuses writes and says NOT_SERVING, the process still answers.
  const std::string free_file = Write("free-bytes", absl::StrCat(uint64_t{1000} << 20, "\n"));
  auto server = StartServer({"--min-free-disk-mb", "100", "--testing-free-disk-file", free_file});
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(Cli({"health", "--server", server->address(), "--service", kLogService}), 0) << err_;
  Write("free-bytes.new", absl::StrCat(uint64_t{1} << 20, "\n"));
  ASSERT_EQ(std::rename((free_file + ".new").c_str(), free_file.c_str()), 0);
  int rc = -1;
  for (int i = 0; i < 50 && rc != 1; ++i) {
    rc = Cli({"health", "--server", server->address(), "--service", kLogService});
    if (rc != 1) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(rc, 1) << out_ << err_;
  EXPECT_EQ(out_, "infratrail.v1.Log: NOT_SERVING\n");
  EXPECT_EQ(Cli({"health", "--server", server->address()}), 0) << err_;
}

TEST_F(HealthCliTest, NoServerExitsThreeWithinTheTimeout) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string address = server->address();
  server.reset();  // stopped: nothing listens on its port any more
  const absl::Time start = absl::Now();
  EXPECT_EQ(Cli({"health", "--server", address, "--timeout-ms", "500"}), 3);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(out_, "");
  EXPECT_NE(err_.find("no answer within 500 ms"), std::string::npos) << err_;
}

TEST_F(HealthCliTest, BadFlagsExitTwo) {
  EXPECT_EQ(Cli({"health", "--timeout-ms", "0"}), 2);
  EXPECT_NE(err_.find("--timeout-ms"), std::string::npos) << err_;
  EXPECT_EQ(Cli({"health", "--tls-cert", "/nonexistent.pem"}), 2);
  EXPECT_NE(err_.find("--tls-cert and --tls-key"), std::string::npos) << err_;
}

}  // namespace
}  // namespace infratrail::testing
