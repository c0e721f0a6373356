// One log the monitor follows: its source, its tree auditor and its state
// directory, and what follows from a round (findings committed to the
// spool, delivered on the channels, staleness, metrics).
//
// Not thread-safe: the monitor's main thread owns every LogMonitor.
#ifndef INFRATRAIL_VERIFIER_MONITOR_LOG_MONITOR_H_
#define INFRATRAIL_VERIFIER_MONITOR_LOG_MONITOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "infratrail/v1/event.pb.h"
#include "verifier/monitor/channels.h"
#include "verifier/monitor/finding.h"
#include "verifier/monitor/log_source.h"
#include "verifier/monitor/monitor_config.h"
#include "verifier/monitor/monitor_metrics.h"
#include "verifier/monitor/monitor_state.h"
#include "verifier/monitor/tree_auditor.h"

namespace infratrail {

// One JSON line on stderr.
void PrintOperational(const OperationalEvent& e);

// Delivers spooled findings on the channels each still owes, in order; a
// channel that fails is left alone for the rest of the pass (and backs off).
// True if the spool changed.
bool DeliverSpool(std::vector<SpooledFinding>* spool,
                  const std::vector<std::unique_ptr<Channel>>& channels, const std::string& origin);

class LogMonitor final : public AuditObserver {
 public:
  // `channels` and `metrics` (may be null) must outlive this; `stop` is
  // the auditor's (AuditorOptions::stop).
  LogMonitor(const MonitoredLog& log, StateDir dir, MonitorState state,
             std::unique_ptr<HttpLogSource> source, const MonitorConfig& config,
             const std::vector<std::unique_ptr<Channel>>* channels, MonitorMetrics* metrics,
             bool progress, std::function<bool()> stop);

  const std::string& origin() const { return log_.key.name(); }
  const MonitorState& state() const { return state_; }

  absl::Status Commit(const AuditState& audit, std::vector<Finding> findings) override;
  void Progress(uint64_t done, uint64_t total) override;

  // Writes what the spool still owes; records it. A crash between the two
  // delivers a finding again, with the same seq, after the restart.
  absl::Status Deliver();
  bool Undelivered() const { return !state_.spool.empty(); }

  // One round and what follows from it (staleness, metrics).
  RoundResult Round(absl::Duration stale_after);

 private:
  absl::Time Since() const {
    return state_.last_success == absl::InfinitePast() ? started_ : state_.last_success;
  }
  AuditorOptions Options(const MonitoredLog& log, const MonitorConfig& c,
                         std::function<bool()> stop);
  // An entry of an InfraEvent log that does not parse is a WARNING (the
  // first kMaxUnparseable of a round, then one summary), never a stop.
  void CheckEvent(uint64_t index, absl::string_view entry, const Hash& leaf,
                  std::vector<Finding>* findings);

  MonitoredLog log_;
  StateDir dir_;
  MonitorState state_;
  std::unique_ptr<HttpLogSource> source_;
  const std::vector<std::unique_ptr<Channel>>* channels_;
  MonitorMetrics* metrics_;
  bool progress_;
  TreeAuditor auditor_;
  int unparseable_ = 0;
  v1::InfraEvent event_;
  const absl::Time started_ = absl::Now();
  absl::Time progress_start_ = absl::InfinitePast();
  absl::Time last_progress_ = absl::InfinitePast();
  uint64_t last_done_ = 0;
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_LOG_MONITOR_H_
