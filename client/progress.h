// A one-line progress display for long imports (`infratrail add` on a large
// file): events done, percent and ETA when the input size is known, and a rate
// smoothed over the last few seconds. The line redraws itself in place
// ("\r" + text + erase to end of line), so it is only for terminals: the CLI
// enables it when stderr is a TTY.
#ifndef INFRATRAIL_CLIENT_PROGRESS_H_
#define INFRATRAIL_CLIENT_PROGRESS_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <ostream>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace infratrail {

// The --progress flag: "always", "never", or "auto" (when stderr is a
// terminal).
bool ProgressWanted(const std::string& mode);

// Not thread-safe: one thread, the one reading the input, calls Update and
// Finish. `out` must outlive the Progress.
class Progress {
 public:
  // Redraws at most this often, by `clock`.
  static constexpr absl::Duration kRedrawInterval = absl::Milliseconds(200);
  // The rate is measured over about this much recent time.
  static constexpr absl::Duration kRateWindow = absl::Seconds(5);

  // `enabled` false makes every call a no-op that writes nothing (and does not
  // read the clock). `total_bytes` is the input size, 0 if unknown (stdin,
  // pipes); with it the line shows percent done and an ETA. `clock` is
  // injectable for tests; the start time is read here.
  Progress(std::ostream& out, bool enabled, uint64_t total_bytes,
           std::function<absl::Time()> clock = absl::Now);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Records that `events_done` events and `bytes_done` input bytes are done
  // so far (both cumulative), redrawing the line unless it was drawn less than
  // kRedrawInterval ago. Ignored after Finish.
  void Update(uint64_t events_done, uint64_t bytes_done);

  // Overwrites the line with the total and the average rate since
  // construction, then ends it with "\n". Later calls do nothing.
  void Finish();

 private:
  struct Sample {
    absl::Time time;
    uint64_t events;
    uint64_t bytes;
  };

  void Draw(absl::Time now);

  std::ostream& out_;
  const bool enabled_;
  const uint64_t total_bytes_;
  const std::function<absl::Time()> clock_;
  absl::Time start_;
  absl::Time last_draw_ = absl::InfinitePast();
  uint64_t events_ = 0;
  uint64_t bytes_ = 0;
  bool finished_ = false;
  // Counts at recent redraws, oldest first; the front is the newest sample at
  // least kRateWindow old (or the start), so rates span the whole window.
  std::deque<Sample> window_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_CLIENT_PROGRESS_H_
