#include "server/server_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace infratrail {
namespace {

using ::testing::HasSubstr;

// The defaults, with the two paths every configuration must name.
ServerConfig Minimal() {
  ServerConfig c;
  c.data_dir = "data";
  c.signing_key = "log.key";
  return c;
}

// `args` parsed as infratrail-server's command line (after the program
// name), on top of the two required paths.
ServerConfig Parse(std::vector<std::string> args) {
  args.insert(args.begin(), {"--data-dir", "data", "--signing-key", "log.key"});
  CLI::App app;
  ServerConfig c;
  AddServeFlags(app, c);
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector last to first
  app.parse(args);
  return c;
}

// Validate refuses `c` with InvalidArgument and a message naming `flag`.
void ExpectRefusedNaming(const ServerConfig& c, const std::string& flag) {
  const absl::Status s = c.Validate();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr(flag));
}

TEST(ServerConfig, DefaultsWithTheRequiredPathsAreValid) {
  EXPECT_TRUE(Minimal().Validate().ok()) << Minimal().Validate();
}

// Registering a flag leaves the struct's default in place.
TEST(ServerConfig, ParsedWithOnlyTheRequiredPathsIsTheValidDefault) {
  const ServerConfig parsed = Parse({});
  EXPECT_EQ(parsed.grpc_addr, Minimal().grpc_addr);
  EXPECT_EQ(parsed.http_in_flight_mb, Minimal().http_in_flight_mb);
  EXPECT_EQ(parsed.min_free_disk_mb, Minimal().min_free_disk_mb);
  EXPECT_TRUE(parsed.Validate().ok()) << parsed.Validate();
}

TEST(ServerConfig, TheShippedExampleConfigIsValid) {
  CLI::App app;
  ServerConfig c;
  AddServeFlags(app, c);
  std::vector<std::string> args = {"--config", INFRATRAIL_EXAMPLE_SERVER_TOML};
  std::reverse(args.begin(), args.end());
  app.parse(args);
  EXPECT_EQ(c.grpc_addr, "0.0.0.0:7400");
  EXPECT_FALSE(c.tokens_file.empty());
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
}

TEST(ServerConfig, SignerStateDefaultsToBesideTheKey) {
  ServerConfig c = Minimal();
  EXPECT_EQ(c.SignerStatePath(), "log.key.state");
  c.signer_state = "elsewhere/state";
  EXPECT_EQ(c.SignerStatePath(), "elsewhere/state");
}

// One rule of Validate: how to break it, starting from Minimal(), and what
// the refusal must say (naming the flag).
struct RuleCase {
  std::string rule;  // the test's name
  std::function<void(ServerConfig&)> break_it;
  std::string message;
};

// gtest prints a parameter in the test's description (and so in ctest's
// test names); the name says it.
void PrintTo(const RuleCase& c, std::ostream* os) { *os << c.rule; }

std::vector<RuleCase> Rules() {
  return {
      {"DataDirIsRequired", [](ServerConfig& c) { c.data_dir.clear(); }, "--data-dir is required"},
      {"SigningKeyIsRequired", [](ServerConfig& c) { c.signing_key.clear(); },
       "--signing-key is required"},
      {"TlsCertNeedsTlsKey", [](ServerConfig& c) { c.tls_cert = "server.crt"; },
       "--tls-cert: needs --tls-key"},
      {"TlsKeyNeedsTlsCert", [](ServerConfig& c) { c.tls_key = "server.key"; },
       "--tls-key: needs --tls-cert"},
      {"TlsClientCaNeedsTheServersOwnCertificate",
       [](ServerConfig& c) {
         c.tls_client_ca = "ca.crt";
         c.writer_identities = {"ci.example.com"};
       },
       "--tls-client-ca: needs --tls-cert and --tls-key"},
      {"TlsClientCaNeedsAWriterIdentity",
       [](ServerConfig& c) {
         c.tls_cert = "server.crt";
         c.tls_key = "server.key";
         c.tls_client_ca = "ca.crt";
       },
       "--tls-client-ca: needs at least one --writer-identity"},
      {"WriterIdentityNeedsTlsClientCa",
       [](ServerConfig& c) {
         c.tls_cert = "server.crt";
         c.tls_key = "server.key";
         c.writer_identities = {"ci.example.com"};
       },
       "--writer-identity: needs --tls-client-ca"},
      {"UnauthenticatedWritesBeyondLoopbackAreRefused",
       [](ServerConfig& c) { c.grpc_addr = "0.0.0.0:7400"; },
       "--grpc-addr 0.0.0.0:7400 is not loopback"},
      {"NegativeRateLimitIsRefused", [](ServerConfig& c) { c.rate_limit = -1; }, "--rate-limit"},
      {"NanRateLimitIsRefused", [](ServerConfig& c) { c.rate_limit = std::nan(""); },
       "--rate-limit"},
      {"StorageMustBeRocksDbOrAPostgresUri", [](ServerConfig& c) { c.storage = "mysql://db/log"; },
       "--storage mysql://db/log: not a store"},
      {"DataDirIsNotUsedWithADatabase",
       [](ServerConfig& c) { c.storage = "postgres://infratrail@db/log"; },
       "--data-dir: not used with --storage"},
      {"AWildcardGrpcAddressNeedsAnAdvertisedOne",
       [](ServerConfig& c) {
         c.data_dir.clear();
         c.storage = "postgresql://infratrail@db/log";
         c.grpc_addr = "0.0.0.0:7400";
         c.allow_unauthenticated_writes = true;
       },
       "--grpc-addr 0.0.0.0:7400: standbys name this address"},
      {"AdvertiseAddrNeedsADatabase", [](ServerConfig& c) { c.advertise_addr = "a:7400"; },
       "--advertise-addr: needs --storage"},
  };
}

class ServerConfigRule : public ::testing::TestWithParam<RuleCase> {};

TEST_P(ServerConfigRule, IsRefusedNamingTheFlag) {
  ServerConfig c = Minimal();
  GetParam().break_it(c);
  ExpectRefusedNaming(c, GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(Rules, ServerConfigRule, ::testing::ValuesIn(Rules()),
                         [](const ::testing::TestParamInfo<RuleCase>& info) {
                           return info.param.rule;
                         });

TEST(ServerConfig, ADatabaseNeedsNoDataDirAndAdvertisesTheGrpcAddress) {
  ServerConfig c = Minimal();
  c.data_dir.clear();
  c.storage = "postgres://infratrail@db.internal:5432/log";
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
  EXPECT_TRUE(c.SharedStorage());
  EXPECT_EQ(c.AdvertisedAddress(), c.grpc_addr);
  c.grpc_addr = "[::]:7400";
  c.allow_unauthenticated_writes = true;
  c.advertise_addr = "a.log.internal:7400";
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
  EXPECT_EQ(c.AdvertisedAddress(), "a.log.internal:7400");
}

TEST(ServerConfig, TheLoopbackRefusalSaysHowToAllowIt) {
  ServerConfig c = Minimal();
  c.grpc_addr = "0.0.0.0:7400";
  EXPECT_THAT(c.Validate().message(), HasSubstr("--allow-unauthenticated-writes"));
}

TEST(ServerConfig, MutualTlsWithAWriterIdentityIsValid) {
  ServerConfig c = Minimal();
  c.grpc_addr = "0.0.0.0:7400";
  c.tls_cert = "server.crt";
  c.tls_key = "server.key";
  c.tls_client_ca = "ca.crt";
  c.writer_identities = {"ci.example.com"};
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
}

TEST(ServerConfig, BeyondLoopbackIsValidWithTokensOrExplicitConsent) {
  ServerConfig tokens = Minimal();
  tokens.grpc_addr = "0.0.0.0:7400";
  tokens.tokens_file = "writers.tokens";
  EXPECT_TRUE(tokens.Validate().ok()) << tokens.Validate();
  ServerConfig open = Minimal();
  open.grpc_addr = "[::]:7400";
  open.allow_unauthenticated_writes = true;
  EXPECT_TRUE(open.Validate().ok()) << open.Validate();
}

TEST(IsLoopback, NamesOnlyLoopbackHosts) {
  for (const char* addr : {"127.0.0.1:7400", "127.1.2.3:0", "localhost:7400", "[::1]:7400"}) {
    EXPECT_TRUE(IsLoopback(addr)) << addr;
  }
  for (const char* addr :
       {"0.0.0.0:7400", "[::]:7400", "10.0.0.1:7400", "example.com:7400", "128.0.0.1:7400", ""}) {
    EXPECT_FALSE(IsLoopback(addr)) << addr;
  }
}

// A flag whose value Validate bounds: its least and greatest allowed values
// as typed on the command line, and the values just outside (nullopt where
// the flag's type cannot hold one).
struct RangeCase {
  std::string flag;
  std::optional<std::string> below;
  std::string least;
  std::string greatest;
  std::string above;
};

void PrintTo(const RangeCase& c, std::ostream* os) { *os << c.flag; }

class ServerConfigRange : public ::testing::TestWithParam<RangeCase> {
 protected:
  ServerConfig ParseValue(const std::string& value) {
    return Parse({GetParam().flag + "=" + value});
  }
};

TEST_P(ServerConfigRange, RefusesAValueOutsideTheRangeNamingTheFlag) {
  if (GetParam().below.has_value())
    ExpectRefusedNaming(ParseValue(*GetParam().below), GetParam().flag);
  ExpectRefusedNaming(ParseValue(GetParam().above), GetParam().flag);
}

TEST_P(ServerConfigRange, AcceptsBothEnds) {
  for (const std::string& v : {GetParam().least, GetParam().greatest}) {
    const absl::Status s = ParseValue(v).Validate();
    EXPECT_TRUE(s.ok()) << GetParam().flag << "=" << v << ": " << s;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Flags, ServerConfigRange,
    ::testing::Values(RangeCase{"--http-threads", "0", "1", "64", "65"},
                      RangeCase{"--tile-cache-mb", std::nullopt, "0", "1048576", "1048577"},
                      RangeCase{"--http-checkpoint-max-age", "-1", "0", "3600", "3601"},
                      RangeCase{"--http-in-flight-mb", "0", "1", "1048576", "1048577"},
                      RangeCase{"--http-head-timeout", "0", "1", "3600", "3601"},
                      RangeCase{"--http-idle-timeout", "0", "1", "3600", "3601"},
                      RangeCase{"--http-send-timeout", "0", "1", "3600", "3601"},
                      RangeCase{"--checkpoint-interval-ms", "0", "1", "3600000", "3600001"},
                      RangeCase{"--max-batch", "0", "1", "1048576", "1048577"},
                      RangeCase{"--max-queue", "0", "1", "67108864", "67108865"},
                      RangeCase{"--lease-ttl-ms", "499", "500", "600000", "600001"},
                      RangeCase{"--postgres-pool", "1", "2", "256", "257"},
                      // In bytes, the reserve must fit 64 bits.
                      RangeCase{"--min-free-disk-mb", std::nullopt, "0", "17592186044415",
                                "17592186044416"}),
    [](const ::testing::TestParamInfo<RangeCase>& info) {
      std::string name = info.param.flag.substr(2);
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

}  // namespace
}  // namespace infratrail
