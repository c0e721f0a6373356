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

TEST(DiskReserve, WritesSinceAReadingBringTheNextReadingForward) {
  // The reading is reused for ever, but 1000 MiB free less the reserve
  // (100) is 900 MiB: what is committed since (counted twice) uses it up.
  FakeDisk disk;
  DiskReserve reserve(Opts({"/data"}, absl::InfiniteDuration()), disk.Fn());
  EXPECT_TRUE(reserve.Check(100 * kMiB).ok());  // 200 of 900 used
  EXPECT_EQ(disk.readings.load(), 1);
  EXPECT_TRUE(reserve.Check(300 * kMiB).ok());  // 800 of 900
  EXPECT_TRUE(reserve.Check().ok());            // nothing written: the cache answers
  EXPECT_EQ(disk.readings.load(), 1);
  // The disk really did fill meanwhile (a writer as fast as the cache is
  // long would have filled it before the next timed reading).
  disk.free = 150 * kMiB;
  const absl::Status st = reserve.Check(60 * kMiB);  // 920 > 900: read again
  EXPECT_EQ(disk.readings.load(), 2);
  EXPECT_TRUE(st.ok()) << st;  // 150 - 100 = 50 MiB of room, 120 used
  disk.free = 90 * kMiB;
  EXPECT_FALSE(reserve.Check(1).ok());  // over the room: read, and refused
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
