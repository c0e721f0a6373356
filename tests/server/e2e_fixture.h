// The gtest fixture shared by the end-to-end tests: a temporary directory
// with a fresh log key and data directory, servers started on it, and their
// stderr printed when a test fails.
#ifndef INFRATRAIL_TESTS_SERVER_E2E_FIXTURE_H_
#define INFRATRAIL_TESTS_SERVER_E2E_FIXTURE_H_

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "tests/server/log_client.h"
#include "tests/server/server_process.h"
#ifdef INFRATRAIL_E2E_POSTGRES
#include "server/testing/postgres_cluster.h"
#endif

namespace infratrail::testing {

inline constexpr absl::string_view kOrigin = "e2e.infratrail.test/log";
inline constexpr char kLogService[] = "infratrail.v1.Log";

#ifdef INFRATRAIL_E2E_POSTGRES
// Built with INFRATRAIL_E2E_POSTGRES, the same tests run on the PostgreSQL
// store: one server for the binary, a new database per test.
inline infratrail::testutil::PostgresCluster* SharedPostgres() {
  return infratrail::testutil::PostgresCluster::Shared({.fsync = false});
}
#endif

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
#ifdef INFRATRAIL_E2E_POSTGRES
    ASSERT_NE(SharedPostgres(), nullptr);
    absl::StatusOr<std::string> db = SharedPostgres()->CreateDatabase();
    ASSERT_TRUE(db.ok()) << db.status();
    storage_ = *db;
#endif
    absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create("infratrail-e2e");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::move(*dir);
    absl::StatusOr<LogKey> key = MakeLogKey(dir_->path(), "log.key", std::string(kOrigin));
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = std::move(*key);
    data_dir_ = dir_->path() + "/data";
  }

  void TearDown() override {
    if (!HasFailure() || dir_ == nullptr) return;
    for (const auto& f : std::filesystem::directory_iterator(dir_->path())) {
      if (f.path().extension() != ".stderr") continue;
      std::cerr << "--- " << f.path().filename().string() << "\n"
                << ReadFileOrEmpty(f.path().string());
    }
  }

  ServerOptions Options(std::vector<std::string> extra_args = {}) const {
    ServerOptions o;
    o.data_dir = data_dir_;
    o.storage = storage_;
    o.signing_key = key_.key_file;
    o.extra_args = std::move(extra_args);
    return o;
  }

  // A server on this test's data directory, serving; null (and a test
  // failure with its stderr) if it does not come up.
  std::unique_ptr<ServerProcess> StartServer(std::vector<std::string> extra_args = {}) {
    absl::StatusOr<std::unique_ptr<ServerProcess>> s =
        ServerProcess::Start(dir_->path(), Options(std::move(extra_args)));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  const std::string& vkey() const { return key_.verifier_key; }

  std::unique_ptr<TempDir> dir_;
  LogKey key_;
  std::string data_dir_;
  std::string storage_;  // a database's URI when built for PostgreSQL
};

// `status` failed with `code` and its message names `field`.
inline ::testing::AssertionResult IsError(const grpc::Status& status, grpc::StatusCode code,
                                          absl::string_view field) {
  if (status.error_code() == code &&
      status.error_message().find(std::string(field)) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "got code " << status.error_code() << " \"" << status.error_message()
         << "\", want code " << code << " naming \"" << field << "\"";
}

}  // namespace infratrail::testing

#endif  // INFRATRAIL_TESTS_SERVER_E2E_FIXTURE_H_
