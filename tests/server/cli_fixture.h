// Fixture for tests that drive the `infratrail` CLI binary as a user would,
// against servers started by ServerTest.
#ifndef INFRATRAIL_TESTS_SERVER_CLI_FIXTURE_H_
#define INFRATRAIL_TESTS_SERVER_CLI_FIXTURE_H_

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/server/e2e_fixture.h"

namespace infratrail::testing {

// The non-empty lines of `text`.
inline std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

class CliTest : public ServerTest {
 protected:
  // Runs the CLI with `args`; its exit code, with this run's stdout and
  // stderr in out_ and err_.
  int Cli(std::vector<std::string> args, absl::Duration timeout = absl::Seconds(120)) {
    args.insert(args.begin(), INFRATRAIL_CLI_BIN);
    const std::string out = dir_->path() + "/cli.out", err = dir_->path() + "/cli.err";
    std::remove(out.c_str());  // RunProgram appends
    std::remove(err.c_str());
    absl::StatusOr<int> rc = RunProgram(args, out, err, timeout);
    EXPECT_TRUE(rc.ok()) << rc.status();
    out_ = ReadFileOrEmpty(out);
    err_ = ReadFileOrEmpty(err);
    return rc.value_or(-1);
  }
  // Writes `text` to the file `name` in the test's directory; its path.
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_->path() + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  std::string out_, err_;
};

}  // namespace infratrail::testing

#endif  // INFRATRAIL_TESTS_SERVER_CLI_FIXTURE_H_
