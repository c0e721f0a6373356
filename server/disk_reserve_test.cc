#include "server/disk_reserve.h"

#include <atomic>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace infratrail {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1 << 20;

// A simulated disk: every path has `free` bytes; counts the readings.
struct FakeDisk {
  std::atomic<uint64_t> free{1000 * kMiB};
  std::atomic<int> readings{0};
  DiskReserve::FreeBytesFn Fn() {
    return [this](const std::string&) -> absl::StatusOr<uint64_t> {
      ++readings;
      return free.load();
    };
  }
};

DiskReserveOptions Opts(std::vector<std::string> paths, absl::Duration refresh) {
  return DiskReserveOptions{
      .paths = std::move(paths), .min_free_bytes = 100 * kMiB, .refresh = refresh};
}

TEST(DiskReserve, RefusesBelowTheReserveNamingThePathTheSpaceAndTheFlag) {
  FakeDisk disk;
  disk.free = 99 * kMiB;
  DiskReserve reserve(Opts({"/data"}, absl::ZeroDuration()), disk.Fn());
  absl::Status st = reserve.Check();
  EXPECT_TRUE(absl::IsResourceExhausted(st)) << st;
  EXPECT_THAT(st.message(), HasSubstr("/data has 99 MiB free"));
  EXPECT_THAT(st.message(), HasSubstr("100 MiB reserve (--min-free-disk-mb)"));
}

TEST(DiskReserve, AdmitsAtTheReserveAndAgainOnceSpaceIsFreed) {
  FakeDisk disk;
  disk.free = 100 * kMiB;
  DiskReserve reserve(Opts({"/data"}, absl::ZeroDuration()), disk.Fn());
  EXPECT_TRUE(reserve.Check().ok());
  disk.free = 100 * kMiB - 1;
  EXPECT_FALSE(reserve.Check().ok());
  disk.free = 500 * kMiB;
  EXPECT_TRUE(reserve.Check().ok());
}

TEST(DiskReserve, EveryPathMustHaveTheReserve) {
  DiskReserve reserve(Opts({"/data", "/keys"}, absl::ZeroDuration()),
                      [](const std::string& path) -> absl::StatusOr<uint64_t> {
                        return path == "/keys" ? 1 * kMiB : 1000 * kMiB;
                      });
  absl::Status st = reserve.Check();
  EXPECT_TRUE(absl::IsResourceExhausted(st));
  EXPECT_THAT(st.message(), HasSubstr("/keys has 1 MiB free"));
}

TEST(DiskReserve, AReadingIsReusedWithinTheRefreshInterval) {
  FakeDisk disk;
  DiskReserve cached(Opts({"/data"}, absl::InfiniteDuration()), disk.Fn());
  EXPECT_TRUE(cached.Check().ok());
  disk.free = 0;
  EXPECT_TRUE(cached.Check().ok());
  EXPECT_EQ(disk.readings.load(), 1);

  DiskReserve fresh(Opts({"/data"}, absl::ZeroDuration()), disk.Fn());
  EXPECT_FALSE(fresh.Check().ok());
  EXPECT_FALSE(fresh.Check().ok());
  EXPECT_EQ(disk.readings.load(), 3);
}

TEST(DiskReserve, UnreadableFreeSpaceIsUnavailableNotFull) {
  DiskReserve reserve(Opts({"/data"}, absl::ZeroDuration()),
                      [](const std::string&) -> absl::StatusOr<uint64_t> {
                        return absl::UnavailableError("statvfs /data: I/O error");
                      });
  EXPECT_TRUE(absl::IsUnavailable(reserve.Check()));
}

TEST(DiskReserve, StatvfsReadsARealFilesystemAndNamesAMissingPath) {
  absl::StatusOr<uint64_t> free = DiskReserve::StatvfsFreeBytes("/");
  ASSERT_TRUE(free.ok()) << free.status();
  absl::StatusOr<uint64_t> missing = DiskReserve::StatvfsFreeBytes("/no/such/dir/here");
  EXPECT_TRUE(absl::IsUnavailable(missing.status()));
  EXPECT_THAT(missing.status().message(), HasSubstr("/no/such/dir/here"));
}

}  // namespace
}  // namespace infratrail
