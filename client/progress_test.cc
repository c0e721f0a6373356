#include "client/progress.h"

#include <algorithm>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace infratrail {
namespace {

class ProgressTest : public ::testing::Test {
 protected:
  // A clock the test moves by hand.
  std::function<absl::Time()> Clock() {
    return [this] {
      ++clock_reads_;
      return now_;
    };
  }
  void Advance(absl::Duration d) { now_ += d; }

  // The text of the last line drawn, without "\r" and the erase sequence.
  std::string LastLine() const {
    const std::string s = out_.str();
    const size_t start = s.rfind('\r');
    const size_t end = s.rfind("\x1b[K");
    if (start == std::string::npos || end == std::string::npos || end < start) return "";
    return s.substr(start + 1, end - start - 1);
  }

  int Redraws() const {
    const std::string s = out_.str();
    return static_cast<int>(std::count(s.begin(), s.end(), '\r'));
  }

  std::ostringstream out_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  int clock_reads_ = 0;
};

TEST_F(ProgressTest, DisabledWritesNothingAndNeverReadsTheClock) {
  Progress p(out_, /*enabled=*/false, 1000, Clock());
  for (uint64_t i = 1; i <= 10; ++i) {
    Advance(absl::Seconds(1));
    p.Update(i * 100, i * 100);
  }
  p.Finish();
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(clock_reads_, 0);
}

TEST_F(ProgressTest, RedrawsAtMostEvery200Milliseconds) {
  Progress p(out_, true, 0, Clock());
  p.Update(1, 10);  // first update draws
  EXPECT_EQ(Redraws(), 1);
  Advance(absl::Milliseconds(100));
  p.Update(2, 20);
  Advance(absl::Milliseconds(99));
  p.Update(3, 30);
  EXPECT_EQ(Redraws(), 1);
  Advance(absl::Milliseconds(1));  // 200 ms since the last draw
  p.Update(4, 40);
  EXPECT_EQ(Redraws(), 2);
  EXPECT_EQ(LastLine().rfind("4 events", 0), 0u) << LastLine();
  p.Update(5, 50);
  EXPECT_EQ(Redraws(), 2);
}

TEST_F(ProgressTest, KnownTotalShowsPercentRateAndEta) {
  Progress p(out_, true, /*total_bytes=*/1000, Clock());
  Advance(absl::Seconds(1));
  p.Update(100, 250);  // 250 bytes/s, 750 bytes to go
  EXPECT_EQ(LastLine(), "100 events, 25.0%, 100 events/s, ETA 3.0s");
  EXPECT_EQ(out_.str().substr(out_.str().size() - 3), "\x1b[K");
}

TEST_F(ProgressTest, LongEtaIsInHoursMinutesSeconds) {
  Progress p(out_, true, /*total_bytes=*/3724 * 1000 + 1000, Clock());
  Advance(absl::Seconds(1));
  p.Update(5000, 1000);  // 1000 bytes/s, 3724 s to go
  EXPECT_EQ(LastLine(), "5000 events, 0.0%, 5000 events/s, ETA 1h02m04s");
}

TEST_F(ProgressTest, UnknownTotalShowsNoPercentOrEta) {
  Progress p(out_, true, /*total_bytes=*/0, Clock());
  Advance(absl::Seconds(2));
  p.Update(100, 5000);
  EXPECT_EQ(LastLine(), "100 events, 50.0 events/s");
}

TEST_F(ProgressTest, RateFollowsTheLastFewSecondsOnly) {
  Progress p(out_, true, /*total_bytes=*/100000, Clock());
  for (uint64_t s = 1; s <= 5; ++s) {  // 1000 events and bytes per second
    Advance(absl::Seconds(1));
    p.Update(s * 1000, s * 1000);
  }
  EXPECT_EQ(LastLine(), "5000 events, 5.0%, 1000 events/s, ETA 1m35s");
  for (int s = 6; s <= 10; ++s) {  // then a stall
    Advance(absl::Seconds(1));
    p.Update(5000, 5000);
  }
  // A lifetime average would still say 500/s; the window says stalled, and
  // with no progress there is no ETA to give.
  EXPECT_EQ(LastLine(), "5000 events, 5.0%, 0.0 events/s");
  Advance(absl::Seconds(1));
  p.Update(7000, 7000);  // 2000 in the last 5 s
  EXPECT_EQ(LastLine(), "7000 events, 7.0%, 400 events/s, ETA 3m53s");
}

TEST_F(ProgressTest, FinishPrintsTotalAndAverageThenNewline) {
  Progress p(out_, true, 1000, Clock());
  Advance(absl::Seconds(2));
  p.Update(300, 600);
  Advance(absl::Seconds(2));
  p.Update(400, 1000);
  p.Finish();
  const std::string s = out_.str();
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s.back(), '\n');
  EXPECT_EQ(s.substr(s.rfind('\r')), "\r400 events in 4.0s (100 events/s)\x1b[K\n");
  // Nothing more once finished.
  p.Update(500, 1000);
  p.Finish();
  EXPECT_EQ(out_.str(), s);
}

TEST_F(ProgressTest, FinishWithoutTimePassingHasNoRate) {
  Progress p(out_, true, 0, Clock());
  p.Finish();
  EXPECT_EQ(out_.str(), "\r0 events in 0.0s\x1b[K\n");
}

}  // namespace
}  // namespace infratrail
