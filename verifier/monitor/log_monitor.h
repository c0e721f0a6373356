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
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "infratrail/v1/event.pb.h"
#include "verifier/monitor/channels.h"
#include "verifier/monitor/console.h"
#include "verifier/monitor/finding.h"
#include "verifier/monitor/gossip.h"
#include "verifier/monitor/index_keeper.h"
#include "verifier/monitor/log_source.h"
#include "verifier/monitor/monitor_config.h"
#include "verifier/monitor/monitor_http.h"
#include "verifier/monitor/monitor_metrics.h"
#include "verifier/monitor/monitor_state.h"
#include "verifier/monitor/tree_auditor.h"
#include "verifier/policy/policy.h"

namespace infratrail {

// One JSON line on stderr.
void PrintOperational(const OperationalEvent& e);

// The finding a policy violation of event `e` (in the log `origin`) is.
Finding PolicyFinding(const PolicyViolation& v, const PolicyEvent& e, const std::string& origin);

// Delivers spooled findings on the channels each still owes, in order; a
// channel that fails is left alone for the rest of the pass (and backs off).
// True if the spool changed.
bool DeliverSpool(std::vector<SpooledFinding>* spool,
                  const std::vector<std::unique_ptr<Channel>>& channels, const std::string& origin);

// What the LogMonitors of one configuration share. The pointers must
// outlive them.
struct LogMonitorContext {
  const MonitorConfig* config = nullptr;  // bundles_per_batch, commit_every
  const std::vector<std::unique_ptr<Channel>>* channels = nullptr;
  MonitorMetrics* metrics = nullptr;  // may be null
  bool progress = false;              // a progress bar on stderr
  std::function<bool()> stop;         // the auditor's (AuditorOptions::stop)
  Policy* policy = nullptr;           // the event policy; null: none
  // Where each log's latest verified checkpoint is published (--http-addr);
  // null: nowhere.
  CheckpointViews* views = nullptr;
  // What the console shows of each log (console.h); null: no console.
  ConsoleViews* console = nullptr;
};

// A log's state directory, its lock held, and the state it holds.
struct LogState {
  StateDir dir;
  MonitorState state;
  // Since when the log is followed: before its first complete round, the
  // staleness clock runs from here.
  absl::Time since;
  // The log's event index (DIR/index) when the console is on and its
  // entries are InfraEvents; null otherwise.
  std::shared_ptr<EventIndex> index = nullptr;
};

class LogMonitor final : public AuditObserver {
 public:
  // `gossip`: null when the log has no gossip peers.
  LogMonitor(const MonitoredLog& log, LogState state, std::unique_ptr<LogSource> source,
             std::unique_ptr<Gossip> gossip, const LogMonitorContext& context);

  const MonitoredLog& log() const { return log_; }
  const std::string& origin() const { return log_.key.name(); }
  const MonitorState& state() const { return state_; }

  // Hands the state directory (and its lock) and the state to the
  // LogMonitor that takes this one's place after a reload: the same
  // directory opened twice in one process would not get its lock.
  // Nothing else may be called on this afterwards.
  LogState Release() &&;

  absl::Status Commit(const AuditState& audit, std::vector<Finding> findings) override;
  void Progress(uint64_t done, uint64_t total) override;

  // Writes what the spool still owes; records it. A crash between the two
  // delivers a finding again, with the same seq, after the restart.
  absl::Status Deliver();
  bool Undelivered() const { return !state_.spool.empty(); }
  // Some spooled finding is owed to a channel that is configured.
  bool Deliverable() const;
  // Findings owed to a channel that is not configured (any more) stay in
  // the spool, and count as undelivered, until it is configured again:
  // says so in one operational line, if there are any.
  void ReportUnconfiguredChannels() const;

  // One round and what follows from it (gossip with the peers, staleness,
  // metrics, the published view).
  RoundResult Round(absl::Duration stale_after);

 private:
  absl::Time Since() const {
    return state_.last_success == absl::InfinitePast() ? started_ : state_.last_success;
  }
  AuditorOptions Options(const MonitoredLog& log, const LogMonitorContext& context);
  bool Configured(const std::string& channel) const;
  // An entry of an InfraEvent log that does not parse is a WARNING (the
  // first kMaxUnparseable of a round, then one summary), never a stop. One
  // that parses goes through the policy. An error: the policy could not
  // evaluate it.
  absl::Status CheckEvent(uint64_t index, absl::string_view entry, const Hash& leaf,
                          std::vector<Finding>* findings);
  // The policy state after entries [0, pos), if this monitor has it: the
  // round's working state, or one of the last commit's.
  const PolicyState* PolicyAt(uint64_t pos) const;
  // Compares the trusted checkpoint with the peers' (gossip.h); a split
  // view is committed as a CRITICAL finding (once per peer checkpoint),
  // the rest is operational.
  void GossipRound(RoundResult* r);
  void PublishView() const;
  // The console's view of the log after round `r`.
  void PublishConsole(const RoundResult& r);
  // Rebuilds the event index if it lacks committed entries; what went
  // wrong goes into `r`.
  void RebuildIndex(RoundResult* r);

  MonitoredLog log_;
  StateDir dir_;
  MonitorState state_;
  std::unique_ptr<LogSource> source_;
  std::unique_ptr<Gossip> gossip_;
  CheckpointViews* views_;
  ConsoleViews* console_;
  std::optional<IndexKeeper> index_;  // with the console, for InfraEvent logs
  uint64_t operational_errors_ = 0;
  OperationalEvent last_operational_;
  absl::Time last_operational_time_ = absl::InfinitePast();
  std::function<bool()> stop_;
  const std::vector<std::unique_ptr<Channel>>* channels_;
  MonitorMetrics* metrics_;
  bool progress_;
  TreeAuditor auditor_;
  int unparseable_ = 0;
  v1::InfraEvent event_;
  Policy* policy_;
  // The policy state of the round under way, after entries [0, policy_next_);
  // the last commit's positions (state_.audit is the auditor's, in flux).
  PolicyState policy_state_;
  uint64_t policy_next_ = 0;
  uint64_t committed_next_ = 0;
  uint64_t committed_trusted_next_ = 0;
  // The entry the policy last failed to evaluate, and in how many rounds.
  uint64_t failing_index_ = ~uint64_t{0};
  int failing_rounds_ = 0;
  std::vector<PolicyViolation> violations_;
  absl::Time started_;
  absl::Time progress_start_ = absl::InfinitePast();
  absl::Time last_progress_ = absl::InfinitePast();
  uint64_t last_done_ = 0;
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_LOG_MONITOR_H_
