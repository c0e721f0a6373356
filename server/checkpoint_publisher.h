// CheckpointPublisher: turns durable tree heads into published, signed
// checkpoints, at most one per interval, on its own thread (so fsyncing the
// signer state never stalls the sequencer).
//
// Publishing (n, r): CheckpointSigner::Sign (consistency with the last signed
// head, state persisted), then the note is stored durably in storage meta,
// then it becomes latest() and waiters for sizes <= n are called.
//
// Failures:
//  - A refusal by the signer (FailedPrecondition: the head would contradict
//    a checkpoint already signed) or a stored checkpoint that no longer
//    parses (DataLoss) is sticky: status() turns non-OK, waiters are failed
//    with Unavailable, nothing more is published until restart.
//  - Anything else (the signer state or the checkpoint could not be written:
//    a full disk, too many open files) is retried with exponential backoff
//    (retry_min .. retry_max). While it fails, status() is Unavailable and
//    waiters are failed with Unavailable (their entries are durable; a retry
//    of the write is answered as a duplicate); the first success clears it.
//
// Witnessed publication (options.witnesses set, from --witness-policy):
// after signing, the note is sent to the witnesses (WitnessCollector) and
// published, with their cosignatures appended, only once the policy's
// quorum is met. A round without the quorum is retried with the same
// backoff; meanwhile the previous checkpoint stays served, stalled() says
// why, waiters are failed with Unavailable at the end of each failed round
// (their entries are durable), and sequencing goes on: status() stays OK,
// because writes are still accepted. With fail_open, a round without the
// quorum publishes what it has (counted in a metric). Once at start the
// stored checkpoint is published again through the witnesses, so a log that
// just gained a policy serves a cosigned checkpoint without waiting for a
// write.
//
// Thread-safe. WaitFor callbacks run on the publisher's two callback threads
// (or the caller's, if already covered), never on the publisher thread: they
// may do slow work (AddEvents computes up to 1,000 inclusion proofs there)
// without delaying the next checkpoint.
#ifndef INFRATRAIL_SERVER_CHECKPOINT_PUBLISHER_H_
#define INFRATRAIL_SERVER_CHECKPOINT_PUBLISHER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/callback_pool.h"
#include "server/checkpoint_signer.h"
#include "server/metrics.h"
#include "server/sequencer.h"
#include "server/storage.h"
#include "server/tree_reader.h"
#include "server/witness_collector.h"

namespace infratrail {

struct PublishedCheckpoint {
  uint64_t size = 0;
  Hash root{};
  std::string note;  // the signed checkpoint note
  absl::Time published_at;
};

// The latest checkpoint stored in meta (kMetaCheckpoint), parsed (not
// verified: it is our own); null if none was ever published. DataLoss if it
// does not parse.
absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>> ReadStoredCheckpoint(
    LogStorage& storage);

struct PublisherOptions {
  // Least time between two checkpoints; bounds signing and fsync cost while
  // keeping submit-to-checkpoint latency low.
  absl::Duration interval = absl::Milliseconds(50);
  // Backoff between attempts after a failure that may pass.
  absl::Duration retry_min = absl::Milliseconds(100);
  absl::Duration retry_max = absl::Seconds(5);
  // Serve the stored checkpoint only: no thread, nothing is signed or
  // written; status() is Unavailable with this reason. Empty: publish.
  std::string read_only_reason = {};
  // Cosignatures to collect before publishing; null: publish at once.
  WitnessCollector* witnesses = nullptr;
  // Publish a checkpoint whose witness round ended without the quorum.
  bool fail_open = false;
  // A standby of a shared store (with read_only_reason): its leader may
  // have stored a checkpoint beyond the head read just before.
  bool standby = false;
};

class CheckpointPublisher {
 public:
  using WaitDone = std::function<void(absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>>)>;

  // Loads the stored latest checkpoint and starts the thread, which
  // publishes `head` at once unless the stored checkpoint already covers it.
  static absl::StatusOr<std::unique_ptr<CheckpointPublisher>> Start(
      LogStorage* storage, CheckpointSigner* signer, TreeReader* reader, const TreeHead& head,
      const PublisherOptions& options, Metrics* metrics);
  ~CheckpointPublisher();  // Stop()

  // A newer durable head to publish (from the sequencer's commit listener).
  void OnCommit(const TreeHead& head);

  // The latest published checkpoint; null before the first.
  std::shared_ptr<const PublishedCheckpoint> latest() const;

  // Calls `done` once a checkpoint of size >= `size` is published, or with
  // Unavailable if publishing fails or stops first.
  void WaitFor(uint64_t size, WaitDone done);

  absl::Status status() const;

  // A standby's view of a log another server publishes: re-reads the
  // stored checkpoint and, if it verifies under the log's key and is larger
  // than latest(), makes it latest(). Only once stopped or read-only (a
  // publishing publisher's checkpoint is its own); true if it moved.
  // DataLoss if the stored note does not parse or verify.
  absl::StatusOr<bool> Refresh();

  // Non-OK (FailedPrecondition, saying which witnesses did not cosign and
  // why) while publication waits for the witness quorum; OK otherwise.
  absl::Status stalled() const;

  // Publishes the last head handed in (if not yet published), fails the
  // remaining waiters, joins the thread. Idempotent.
  void Stop();

 private:
  CheckpointPublisher(LogStorage* storage, CheckpointSigner* signer, TreeReader* reader,
                      const PublisherOptions& options, Metrics* metrics);
  void Run();
  absl::Status Publish(const TreeHead& head);
  // The witness round over a signed note: the note with the cosignatures,
  // or Unavailable(kStalled) without the quorum (stalled_ says why).
  absl::StatusOr<std::string> Witness(const std::string& note, uint64_t size);
  void FailAll(const absl::Status& status);

  LogStorage* const storage_;
  CheckpointSigner* const signer_;
  TreeReader* const reader_;
  const PublisherOptions options_;
  Metrics* const metrics_;

  mutable absl::Mutex mu_;
  TreeHead target_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const PublishedCheckpoint> latest_ ABSL_GUARDED_BY(mu_);
  std::multimap<uint64_t, WaitDone> waiters_ ABSL_GUARDED_BY(mu_);
  absl::Status failed_ ABSL_GUARDED_BY(mu_);     // sticky
  absl::Status failing_ ABSL_GUARDED_BY(mu_);    // the last attempt's error, being retried
  absl::Status stalled_ ABSL_GUARDED_BY(mu_);    // the last witness round's, if it failed
  bool republish_ ABSL_GUARDED_BY(mu_) = false;  // the stored checkpoint, through the witnesses
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::thread thread_;
  absl::Mutex stop_mu_;
  const std::unique_ptr<CallbackPool> callbacks_;  // runs WaitFor callbacks
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_CHECKPOINT_PUBLISHER_H_
