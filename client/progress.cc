#include "client/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace infratrail {

bool ProgressWanted(const std::string& mode) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  return isatty(STDERR_FILENO) == 1;
}
namespace {

constexpr absl::string_view kEraseToEndOfLine = "\x1b[K";

// "7.3s", "1m05s", "2h03m07s": short enough for a status line.
std::string ShortDuration(absl::Duration d) {
  if (d < absl::Minutes(1)) return absl::StrFormat("%.1fs", absl::ToDoubleSeconds(d));
  const int64_t s = absl::ToInt64Seconds(d);
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60);
}

// Whole events per second once that is precise enough, tenths below 100.
std::string FormatRate(double per_second) {
  return per_second >= 100 ? absl::StrFormat("%.0f", per_second)
                           : absl::StrFormat("%.1f", per_second);
}

}  // namespace

Progress::Progress(std::ostream& out, bool enabled, uint64_t total_bytes,
                   std::function<absl::Time()> clock)
    : out_(out), enabled_(enabled), total_bytes_(total_bytes), clock_(std::move(clock)) {
  if (!enabled_) return;
  start_ = clock_();
  window_.push_back({start_, 0, 0});
}

void Progress::Update(uint64_t events_done, uint64_t bytes_done) {
  if (!enabled_ || finished_) return;
  events_ = events_done;
  bytes_ = bytes_done;
  const absl::Time now = clock_();
  if (now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  Draw(now);
}

void Progress::Draw(absl::Time now) {
  window_.push_back({now, events_, bytes_});
  while (window_.size() > 2 && window_[1].time <= now - kRateWindow) window_.pop_front();
  const Sample& oldest = window_.front();
  const double seconds = absl::ToDoubleSeconds(now - oldest.time);

  std::string line = absl::StrCat("\r", events_, " events");
  if (total_bytes_ > 0) {
    const double fraction = std::min(1.0, static_cast<double>(bytes_) / total_bytes_);
    absl::StrAppendFormat(&line, ", %.1f%%", 100 * fraction);
  }
  if (seconds > 0) {
    // Counts only grow, but a caller bug must not print 18446744073709551615/s.
    const double events = events_ >= oldest.events ? events_ - oldest.events : 0;
    const double bytes = bytes_ >= oldest.bytes ? bytes_ - oldest.bytes : 0;
    absl::StrAppend(&line, ", ", FormatRate(events / seconds), " events/s");
    const double bytes_per_second = bytes / seconds;
    if (total_bytes_ > bytes_ && bytes_per_second > 0) {
      const double eta = std::ceil((total_bytes_ - bytes_) / bytes_per_second);
      absl::StrAppend(&line, ", ETA ", ShortDuration(absl::Seconds(eta)));
    }
  }
  out_ << line << kEraseToEndOfLine << std::flush;
}

void Progress::Finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  const absl::Duration elapsed = clock_() - start_;
  std::string line = absl::StrCat("\r", events_, " events in ", ShortDuration(elapsed));
  if (elapsed > absl::ZeroDuration()) {
    absl::StrAppend(&line, " (", FormatRate(events_ / absl::ToDoubleSeconds(elapsed)),
                    " events/s)");
  }
  out_ << line << kEraseToEndOfLine << "\n" << std::flush;
}

}  // namespace infratrail
