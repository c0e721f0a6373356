#include "client/cli_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace infratrail::cli {
namespace {

namespace fs = std::filesystem;

TEST(ParseDurationArg, TakesAbslDurationsAndRefusesNegativeOnesNamingTheFlag) {
  EXPECT_EQ(*ParseDurationArg("500ms", "--linger"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseDurationArg("2m", "--linger"), absl::Minutes(2));
  EXPECT_EQ(*ParseDurationArg("0", "--retry-for"), absl::ZeroDuration());
  for (const char* bad : {"5", "soon", "-1s", ""}) {
    absl::StatusOr<absl::Duration> d = ParseDurationArg(bad, "--timeout");
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(d.status().message(),
              absl::StrCat("--timeout: \"", bad, "\" is not a duration like 500ms, 30s or 2m"));
  }
}

// Files in a directory of this test's own (tests of one binary run one at a
// time; ctest runs each in its own process, named by the pid).
class ReadFileArgTest : public ::testing::Test {
 protected:
  ReadFileArgTest()
      : dir_(fs::temp_directory_path() / absl::StrCat("infratrail-cli-util-", getpid())) {
    fs::create_directories(dir_);
  }
  ~ReadFileArgTest() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& data) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << data;
    return path;
  }

  const fs::path dir_;
};

TEST_F(ReadFileArgTest, ReadsUpToTheLimitAndNoMore) {
  EXPECT_EQ(*ReadFileArg(Write("at", "12345"), "--proof", 5), "12345");
  const std::string over = Write("over", "123456");
  absl::StatusOr<std::string> data = ReadFileArg(over, "--proof", 5);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(data.status().message(),
            absl::StrCat("--proof: read ", over, ": larger than the limit of 5 bytes"));
  data = ReadFileArg("/dev/zero", "--entry", 5);
  EXPECT_EQ(data.status().message(), "--entry: read /dev/zero: larger than the limit of 5 bytes");
}

TEST_F(ReadFileArgTest, MissingFilesAndDirectoriesAreUsageErrorsNamingTheFlag) {
  for (const std::string& path : {(dir_ / "missing").string(), dir_.string()}) {
    absl::StatusOr<std::string> data = ReadFileArg(path, "--checkpoint", 100);
    EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_EQ(data.status().message().rfind("--checkpoint: read " + path + ": ", 0), 0u)
        << data.status();
  }
}

TEST_F(ReadFileArgTest, DashIsStandardInputBoundedToo) {
  const int saved = dup(STDIN_FILENO);
  ASSERT_GE(saved, 0);
  auto read_stdin_from = [&](const std::string& path, size_t max_bytes) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(dup2(fd, STDIN_FILENO), STDIN_FILENO);
    close(fd);
    absl::StatusOr<std::string> data = ReadFileArg("-", "--entry", max_bytes);
    EXPECT_EQ(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    return data;
  };
  const std::string entry = Write("entry", "entry bytes");
  EXPECT_EQ(*read_stdin_from(entry, 11), "entry bytes");
  absl::StatusOr<std::string> over = read_stdin_from(entry, 10);
  EXPECT_EQ(over.status().message(), "--entry: read /dev/stdin: larger than the limit of 10 bytes");
  close(saved);
}

}  // namespace
}  // namespace infratrail::cli
