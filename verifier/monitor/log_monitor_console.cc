// The LogMonitor's side of the console: its event index kept whole, and
// the view of the log published after each round.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/witness_policy.h"
#include "verifier/monitor/log_monitor.h"

namespace infratrail {

void LogMonitor::RebuildIndex(RoundResult* r) {
  if (!index_.has_value() || !index_->Behind(state_.audit)) return;
  uint64_t size = state_.audit.next;
  if (absl::StatusOr<VerifiedCheckpoint> trusted =
          OpenCheckpoint(state_.audit.trusted_note, log_.key, log_.witnesses);
      trusted.ok()) {
    size = std::max(size, trusted->checkpoint.size);
  }
  IndexKeeper::RebuildResult rebuilt =
      index_->Rebuild(state_.audit, size, source_.get(), origin(), stop_);
  if (rebuilt.finding.has_value()) {
    AuditState audit = state_.audit;
    if (!MarkRaised(&audit, "entries_changed:index_rebuild")) {
      ++r->known;
      return;
    }
    if (absl::Status s = Commit(audit, {*std::move(rebuilt.finding)}); !s.ok()) {
      r->operational.push_back(
          {.origin = origin(), .kind = "state", .message = std::string(s.message())});
      return;
    }
    ++r->critical;
    return;
  }
  if (!rebuilt.status.ok() && !absl::IsCancelled(rebuilt.status)) {
    r->operational.push_back(
        {.origin = origin(), .kind = "index", .message = std::string(rebuilt.status.message())});
  }
}

void LogMonitor::PublishConsole(const RoundResult& r) {
  if (console_ == nullptr) return;
  ConsoleLogView v;
  v.origin = origin();
  v.log_url = log_.url;
  if (absl::StartsWith(log_.url, "http://") || absl::StartsWith(log_.url, "https://")) {
    v.tiles_url = absl::EndsWith(log_.url, "/") ? log_.url : absl::StrCat(log_.url, "/");
  }
  v.log_key = log_.key.vkey();
  for (const NoteVerifier& w : log_.witnesses.witnesses) v.witness_keys.push_back(w.vkey());
  v.witness_threshold = log_.witnesses.threshold;
  v.trusted_checkpoint = state_.audit.trusted_note;
  if (absl::StatusOr<VerifiedCheckpoint> trusted =
          OpenCheckpoint(state_.audit.trusted_note, log_.key, log_.witnesses);
      trusted.ok()) {
    v.verified_size = trusted->checkpoint.size;
    v.cosigned_by = trusted->witness_names;
  }
  v.log_size = std::max(r.log_size, v.verified_size);
  v.started = started_;
  if (r.log_size > 0 || !r.operational.empty() || r.complete) {
    v.last_round = absl::Now();
    if (r.critical + r.known > 0) {
      v.last_outcome = "the log lied (CRITICAL findings)";
    } else if (r.complete) {
      v.last_outcome = "verified";
    } else if (!r.operational.empty()) {
      v.last_outcome = absl::StrCat("incomplete: ", r.operational.back().kind, ": ",
                                    r.operational.back().message);
    } else {
      v.last_outcome = "incomplete";
    }
  }
  v.last_success = state_.last_success;
  v.operational_errors = operational_errors_;
  if (operational_errors_ > 0) {
    v.last_operational = absl::StrCat(last_operational_.kind, ": ", last_operational_.message);
    v.last_operational_time = last_operational_time_;
  }
  v.state_dir = dir_.dir();
  if (index_.has_value()) v.index = index_->index();
  console_->Publish(std::move(v));
}

}  // namespace infratrail
