#include "verifier/monitor/log_monitor.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace infratrail {

void PrintOperational(const OperationalEvent& e) {
  std::cerr << e.ToJson(absl::Now()).dump() << "\n";
}

bool DeliverSpool(std::vector<SpooledFinding>* spool,
                  const std::vector<std::unique_ptr<Channel>>& channels,
                  const std::string& origin) {
  bool changed = false;
  const absl::Time now = absl::Now();
  std::vector<const Channel*> failed;
  for (SpooledFinding& f : *spool) {
    for (const std::unique_ptr<Channel>& ch : channels) {
      auto it = std::find(f.channels.begin(), f.channels.end(), ch->name());
      if (it == f.channels.end() || !ch->Ready(now)) continue;
      if (std::find(failed.begin(), failed.end(), ch.get()) != failed.end()) continue;
      if (absl::Status s = ch->Deliver(f.finding); !s.ok()) {
        ch->Failed(now);
        failed.push_back(ch.get());
        PrintOperational(
            {.origin = origin, .kind = "delivery", .message = std::string(s.message())});
        continue;
      }
      ch->Succeeded();
      f.channels.erase(it);
      changed = true;
    }
  }
  std::erase_if(*spool, [](const SpooledFinding& f) { return f.channels.empty(); });
  return changed;
}

LogMonitor::LogMonitor(const MonitoredLog& log, LogState state, std::unique_ptr<LogSource> source,
                       std::unique_ptr<Gossip> gossip, const LogMonitorContext& context)
    : log_(log),
      dir_(std::move(state.dir)),
      state_(std::move(state.state)),
      source_(std::move(source)),
      gossip_(std::move(gossip)),
      views_(context.views),
      console_(context.console),
      stop_(context.stop),
      channels_(context.channels),
      metrics_(context.metrics),
      progress_(context.progress),
      auditor_(Options(log, context)),
      policy_(context.policy),
      started_(state.since) {
  if (state.index != nullptr) {
    index_.emplace(std::move(state.index));
    // After a crash the index may be ahead of the last commit; findings
    // still spooled may not have reached it.
    std::vector<Finding> spooled;
    for (const SpooledFinding& f : state_.spool) spooled.push_back(f.finding);
    absl::Status s = index_->Align(state_.audit.next);
    if (s.ok()) s = index_->index()->TruncateFindings(state_.next_seq);
    if (s.ok() && !spooled.empty()) s = index_->index()->AddFindings(spooled);
    if (s.ok()) s = index_->index()->Sync();
    if (!s.ok()) {
      PrintOperational({.origin = origin(), .kind = "index", .message = std::string(s.message())});
    }
  }
  PublishView();
  PublishConsole(RoundResult{});
}

void LogMonitor::PublishView() const {
  if (views_ != nullptr && !state_.audit.trusted_note.empty()) {
    views_->Publish(origin(), state_.audit.trusted_note);
  }
}

void LogMonitor::GossipRound(RoundResult* r) {
  std::vector<Gossip::PeerResult> results = gossip_->Round(GossipView{
      .trusted_note = state_.audit.trusted_note, .log_size = r->log_size, .source = source_.get()});
  AuditState audit = state_.audit;
  std::vector<Finding> findings;
  for (Gossip::PeerResult& pr : results) {
    const GossipPeer& peer = gossip_->peers()[pr.peer];
    GossipCheck& c = pr.check;
    if (metrics_ != nullptr) {
      metrics_->GossipCheck(origin(), peer.label, c.kind);
      if (c.peer_size > 0 || c.outcome == GossipOutcome::kConsistent) {
        metrics_->GossipPeerSize(origin(), peer.label, static_cast<double>(c.peer_size));
      }
    }
    if (c.outcome == GossipOutcome::kError || c.outcome == GossipOutcome::kPending) {
      PrintOperational({.origin = origin(),
                        .kind = "gossip",
                        .message = absl::StrCat("peer ", peer.label, " (", peer.url, "): ", c.kind,
                                                ": ", c.message)});
      continue;
    }
    if (c.outcome != GossipOutcome::kSplitView) continue;
    if (!MarkRaised(&audit, c.key)) {
      ++r->known;
      continue;
    }
    Finding f;
    f.time = absl::Now();
    f.severity = Severity::kCritical;
    f.rule = "log.split_view";
    f.origin = origin();
    f.message = std::move(c.message);
    f.evidence_files = std::move(c.evidence);
    f.evidence_files.push_back(
        EvidenceFile{.name = "README", .bytes = absl::StrCat(f.message, "\n")});
    findings.push_back(std::move(f));
  }
  if (findings.empty()) return;
  const size_t raised = findings.size();
  if (absl::Status s = Commit(audit, std::move(findings)); !s.ok()) {
    // Not recorded as raised either: the next round finds it again.
    PrintOperational({.origin = origin(), .kind = "state", .message = std::string(s.message())});
    return;
  }
  r->critical += raised;
}

LogState LogMonitor::Release() && {
  return LogState{.dir = std::move(dir_),
                  .state = std::move(state_),
                  .since = started_,
                  .index = index_.has_value() ? index_->index() : nullptr};
}

bool LogMonitor::Configured(const std::string& channel) const {
  return std::any_of(channels_->begin(), channels_->end(),
                     [&](const std::unique_ptr<Channel>& ch) { return ch->name() == channel; });
}

bool LogMonitor::Deliverable() const {
  return std::any_of(state_.spool.begin(), state_.spool.end(), [this](const SpooledFinding& f) {
    return std::any_of(f.channels.begin(), f.channels.end(),
                       [this](const std::string& ch) { return Configured(ch); });
  });
}

void LogMonitor::ReportUnconfiguredChannels() const {
  std::map<std::string, size_t> owed;  // channel -> findings
  for (const SpooledFinding& f : state_.spool) {
    for (const std::string& ch : f.channels) {
      if (!Configured(ch)) ++owed[ch];
    }
  }
  if (owed.empty()) return;
  std::vector<std::string> counts;
  counts.reserve(owed.size());
  for (const auto& [ch, n] : owed) counts.push_back(absl::StrCat(n, " for ", ch));
  PrintOperational(
      {.origin = origin(),
       .kind = "delivery",
       .message = absl::StrCat("spooled findings are owed to channels that are not configured (",
                               absl::StrJoin(counts, ", "),
                               "): they stay in the spool, and in "
                               "infratrail_monitor_undelivered_findings, until the channel is "
                               "configured again")});
}

const PolicyState* LogMonitor::PolicyAt(uint64_t pos) const {
  // Entries of an opaque log are not events: no policy state moves.
  if (log_.entry_format != EntryFormat::kInfraEvent) return &state_.policy;
  if (pos == policy_next_) return &policy_state_;
  if (pos == committed_next_) return &state_.policy;
  if (pos == committed_trusted_next_) return &state_.policy_trusted;
  return nullptr;
}

absl::Status LogMonitor::Commit(const AuditState& audit, std::vector<Finding> findings) {
  const PolicyState* policy = PolicyAt(audit.next);
  const PolicyState* trusted = PolicyAt(audit.trusted_next);
  if (policy == nullptr || trusted == nullptr) {
    // Cannot happen: the auditor commits where it evaluated up to, or falls
    // back to a committed position. Refusing keeps the state whole.
    return absl::InternalError(absl::StrCat(
        "the event policy's state is not known at entry ", audit.next, " (evaluated up to ",
        policy_next_, ", committed ", committed_next_, ", trusted ", committed_trusted_next_, ")"));
  }
  MonitorState next = state_;
  next.audit = audit;
  next.policy = *policy;
  next.policy_trusted = *trusted;
  std::vector<Finding> indexed;
  for (Finding& f : findings) {
    f.seq = next.next_seq++;
    if (!f.evidence_files.empty()) {
      const std::string name = absl::StrCat(
          absl::FormatTime("%Y%m%dT%H%M%SZ", f.time, absl::UTCTimeZone()), "-", f.rule, "-", f.seq);
      absl::StatusOr<std::string> rel = dir_.WriteEvidence(name, f.evidence_files);
      if (!rel.ok()) return rel.status();
      f.evidence = *rel;
      f.evidence_files.clear();
    }
    if (metrics_ != nullptr) metrics_->Finding(origin(), f.rule, SeverityName(f.severity));
    if (index_.has_value()) indexed.push_back(f);
    SpooledFinding sf;
    sf.finding = std::move(f);
    for (const std::unique_ptr<Channel>& ch : *channels_) sf.channels.push_back(ch->name());
    next.spool.push_back(std::move(sf));
  }
  // The index holds what is about to be committed before the state says
  // so (index_keeper.h).
  if (index_.has_value()) {
    if (absl::Status s = index_->BeforeCommit(audit, indexed); !s.ok()) return s;
  }
  // Commit point: the audit position, the policy state at it and the
  // findings up to it are durable together. A crash before the rename
  // repeats this stretch, findings included, from the previous commit.
  if (absl::Status s = dir_.Save(next); !s.ok()) return s;
  state_ = std::move(next);
  committed_next_ = audit.next;
  committed_trusted_next_ = audit.trusted_next;
  if (policy_next_ != audit.next) {
    // The audit fell back: evaluation goes on from there.
    policy_state_ = state_.policy;
    policy_next_ = audit.next;
  }
  return Deliver();
}

void LogMonitor::Progress(uint64_t done, uint64_t total) {
  if (!progress_ || total == 0) return;
  const absl::Time now = absl::Now();
  if (done < total && now - last_progress_ < absl::Milliseconds(250)) return;
  if (progress_start_ == absl::InfinitePast() || done < last_done_) progress_start_ = now;
  last_progress_ = now;
  last_done_ = done;
  const double secs = absl::ToDoubleSeconds(now - progress_start_);
  const double rate = secs > 0 ? done / secs : 0;
  const double eta = rate > 0 ? (total - done) / rate : 0;
  std::fprintf(stderr, "\r%s: %llu / %llu entries (%.1f%%), %.0f/s, ETA %.0fs   ", origin().c_str(),
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
               100.0 * done / total, rate, eta);
  if (done == total) std::fputc('\n', stderr);
  std::fflush(stderr);
}

absl::Status LogMonitor::Deliver() {
  const bool changed = DeliverSpool(&state_.spool, *channels_, origin());
  if (metrics_ != nullptr) metrics_->Undelivered(origin(), state_.spool.size());
  return changed ? dir_.Save(state_) : absl::OkStatus();
}

RoundResult LogMonitor::Round(absl::Duration stale_after) {
  unparseable_ = 0;
  const absl::Time start = absl::Now();
  // Every round starts from the last commit (an earlier round may have
  // ended mid-batch).
  committed_next_ = state_.audit.next;
  committed_trusted_next_ = state_.audit.trusted_next;
  policy_state_ = state_.policy;
  policy_next_ = state_.audit.next;
  RoundResult pre;
  if (index_.has_value()) {
    // What the index took after the last commit was read toward a target
    // never committed, which this round may not reach again.
    if (absl::Status s = index_->Align(state_.audit.next); !s.ok()) {
      pre.operational.push_back(
          {.origin = origin(), .kind = "index", .message = std::string(s.message())});
    }
  }
  RebuildIndex(&pre);
  RoundResult r = auditor_.Round(&state_.audit, source_.get(), this);
  r.critical += pre.critical;
  r.known += pre.known;
  r.operational.insert(r.operational.begin(), pre.operational.begin(), pre.operational.end());
  PublishView();
  if (gossip_ != nullptr && !(stop_ && stop_())) GossipRound(&r);
  if (policy_ != nullptr) {
    for (std::string& m : policy_->TakeOperational()) {
      r.operational.push_back({.origin = origin(), .kind = "policy", .message = std::move(m)});
    }
  }
  // The state in memory may hold an uncommitted position after a failed
  // commit; the last commit is the truth.
  for (const OperationalEvent& e : r.operational) {
    PrintOperational(e);
    if (metrics_ != nullptr) metrics_->Operational(origin(), e.kind);
    ++operational_errors_;
    last_operational_ = e;
    last_operational_time_ = absl::Now();
  }
  if (r.complete) {
    state_.last_success = absl::Now();
    state_.stale_raised = false;
    if (absl::Status s = dir_.Save(state_); !s.ok()) {
      PrintOperational({.origin = origin(), .kind = "state", .message = std::string(s.message())});
    }
  } else if (state_.stale_raised) {
    ++r.known;  // still stale, reported once already
  } else if (absl::Now() - Since() > stale_after) {
    Finding f;
    f.time = absl::Now();
    f.severity = Severity::kAlert;
    f.rule = "monitor.stale";
    f.origin = origin();
    f.message = absl::StrCat(
        "no complete round of ", origin(), " since ",
        state_.last_success == absl::InfinitePast()
            ? std::string("the monitor started")
            : absl::FormatTime(absl::RFC3339_sec, state_.last_success, absl::UTCTimeZone()),
        " (stale after ", absl::FormatDuration(stale_after), ")");
    state_.stale_raised = true;
    if (Commit(state_.audit, {std::move(f)}).ok()) {
      ++r.alert;
    } else {
      state_.stale_raised = false;
    }
  }
  if (metrics_ != nullptr) {
    metrics_->Round(
        origin(),
        r.critical + r.alert + r.known > 0 ? "finding" : (r.complete ? "clean" : "incomplete"),
        absl::ToDoubleSeconds(absl::Now() - start));
    metrics_->EntriesVerified(origin(), r.entries);
    if (r.log_size > 0) metrics_->LogSize(origin(), r.log_size);
    metrics_->VerifiedSize(origin(), r.verified_size);
    if (state_.last_success != absl::InfinitePast()) {
      metrics_->LastSuccess(origin(), absl::ToUnixSeconds(state_.last_success));
    }
  }
  PublishConsole(r);
  return r;
}

AuditorOptions LogMonitor::Options(const MonitoredLog& log, const LogMonitorContext& context) {
  AuditorOptions o;
  o.log_key = log.key;
  o.witnesses = log.witnesses;
  o.bundles_per_batch = context.config->bundles_per_batch;
  o.commit_every = context.config->commit_every;
  o.stop = context.stop;
  if (log.entry_format == EntryFormat::kInfraEvent) {
    o.on_entry = [this](uint64_t index, absl::string_view entry, const Hash& leaf,
                        std::vector<Finding>* findings) {
      return CheckEvent(index, entry, leaf, findings);
    };
  }
  return o;
}

absl::Status LogMonitor::CheckEvent(uint64_t index, absl::string_view entry, const Hash& leaf,
                                    std::vector<Finding>* findings) {
  if (index != policy_next_) {
    return absl::InternalError(absl::StrCat("entry ", index, " handed over after entry ",
                                            policy_next_, ": the policy state would skip"));
  }
  if (index_.has_value()) {
    if (absl::Status s = index_->Add(index, entry, leaf); !s.ok()) return s;
  }
  // One message reused: parsing into it again keeps its allocations.
  event_.Clear();
  if (event_.ParseFromArray(entry.data(), static_cast<int>(entry.size()))) {
    if (policy_ != nullptr) {
      violations_.clear();
      PolicyEvent pe;
      pe.index = index;
      pe.leaf_hash = &leaf;
      pe.entry = entry;
      pe.event = &event_;
      const uint64_t suppressed = policy_->suppressed();
      if (absl::Status s = policy_->Evaluate(pe, &policy_state_, &violations_); !s.ok()) {
        // Retried round after round, an error the repository keeps giving
        // (a corrupt object, a tree past the size limit: the operator's to
        // cause) would halt the whole audit at this entry. After
        // kPolicyRounds rounds the event is reported as not evaluated and
        // the audit goes on.
        constexpr int kPolicyRounds = 3;
        if (index != failing_index_) {
          failing_index_ = index;
          failing_rounds_ = 0;
        }
        if (++failing_rounds_ < kPolicyRounds) return s;
        Finding f = PolicyFinding(
            PolicyViolation{
                .rule = "policy.not_evaluated",
                .severity = PolicySeverity::kAlert,
                .requirement = "",
                .message = absl::StrCat("the event policy could not evaluate entry ", index, " in ",
                                        kPolicyRounds,
                                        " rounds; its rules were not applied: ", s.message())},
            pe, origin());
        findings->push_back(std::move(f));
        violations_.clear();
      }
      if (metrics_ != nullptr && policy_->suppressed() != suppressed) {
        metrics_->PolicyExcepted(origin(), static_cast<double>(policy_->suppressed() - suppressed));
      }
      for (PolicyViolation& v : violations_) findings->push_back(PolicyFinding(v, pe, origin()));
    }
    ++policy_next_;
    return absl::OkStatus();
  }
  ++policy_next_;
  constexpr int kMaxUnparseable = 100;
  if (++unparseable_ > kMaxUnparseable + 1) return absl::OkStatus();
  Finding f;
  f.time = absl::Now();
  f.severity = Severity::kWarning;
  f.rule = "entry.unparseable";
  f.origin = origin();
  f.index = index;
  f.leaf_hash = HashToBase64(leaf);
  f.message = unparseable_ <= kMaxUnparseable
                  ? absl::StrCat("entry ", index, " (", entry.size(),
                                 " bytes) is not an infratrail.v1.InfraEvent")
                  : absl::StrCat("more than ", kMaxUnparseable,
                                 " entries of this round are not InfraEvents; the rest are not "
                                 "reported one by one (is this log's --entry-format opaque?)");
  findings->push_back(std::move(f));
  return absl::OkStatus();
}

Finding PolicyFinding(const PolicyViolation& v, const PolicyEvent& e, const std::string& origin) {
  Finding f;
  f.time = absl::Now();
  switch (v.severity) {
    case PolicySeverity::kAlert:
      f.severity = Severity::kAlert;
      break;
    case PolicySeverity::kWarning:
      f.severity = Severity::kWarning;
      break;
    case PolicySeverity::kNotice:
      f.severity = Severity::kNotice;
      break;
  }
  f.rule = v.rule;
  f.origin = origin;
  f.index = e.index;
  if (e.leaf_hash != nullptr) f.leaf_hash = HashToBase64(*e.leaf_hash);
  const v1::InfraEvent& ev = *e.event;
  f.resource =
      absl::StrCat(ev.resource().provider(), "/", ev.resource().type(), "/", ev.resource().id());
  f.actor = ev.actor().principal();
  f.kind = v1::EventKind_Name(ev.kind());
  if (f.kind.empty()) f.kind = absl::StrCat(static_cast<int>(ev.kind()));
  f.requirement = v.requirement;
  f.message = v.message;
  return f;
}

}  // namespace infratrail
