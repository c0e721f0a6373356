// The monitor's durable state for one log: the AuditState, the findings not
// yet delivered (the spool), and the next finding number, in one JSON file
// (DIR/state.json) replaced atomically on every commit (temp file, fsync,
// rename, directory fsync). A lock file (DIR/lock, flock) keeps a second
// monitor off the same directory.
#ifndef INFRATRAIL_VERIFIER_MONITOR_MONITOR_STATE_H_
#define INFRATRAIL_VERIFIER_MONITOR_MONITOR_STATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "verifier/monitor/finding.h"
#include "verifier/monitor/tree_auditor.h"
#include "verifier/policy/policy.h"

namespace infratrail {

// A finding waiting for delivery on the channels still listed.
struct SpooledFinding {
  Finding finding;
  std::vector<std::string> channels;  // "stdout", "webhook", "exec"
};

struct MonitorState {
  std::string log_key;  // the verifier key the state was built with
  AuditState audit;
  uint64_t next_seq = 1;
  std::vector<SpooledFinding> spool;
  absl::Time last_success = absl::InfinitePast();
  // monitor.stale was raised and no round has completed since.
  bool stale_raised = false;
  // The event policy's state after entries [0, audit.next), and after
  // [0, audit.trusted_next) to fall back to with the audit.
  PolicyState policy;
  PolicyState policy_trusted;
};

// The bytes of state.json.
std::string EncodeMonitorState(const MonitorState& state);
// DataLoss naming the field for a file that is not one we wrote.
absl::StatusOr<MonitorState> DecodeMonitorState(absl::string_view json);

// Holds DIR/lock for as long as it lives.
class StateDir {
 public:
  // Creates DIR if needed and takes its lock: FailedPrecondition "another
  // monitor holds DIR/lock" if one does.
  static absl::StatusOr<StateDir> Open(const std::string& dir);
  StateDir(StateDir&& other) noexcept;
  StateDir& operator=(StateDir&&) = delete;
  ~StateDir();

  const std::string& dir() const { return dir_; }
  // NotFound when there is no state yet.
  absl::StatusOr<MonitorState> Load() const;
  absl::Status Save(const MonitorState& state) const;
  // Writes the files into DIR/evidence/<name>/ durably; the directory
  // relative to DIR.
  absl::StatusOr<std::string> WriteEvidence(const std::string& name,
                                            const std::vector<EvidenceFile>& files) const;

 private:
  StateDir(std::string dir, int lock_fd) : dir_(std::move(dir)), lock_fd_(lock_fd) {}
  std::string dir_;
  int lock_fd_ = -1;
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_MONITOR_STATE_H_
