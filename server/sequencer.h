// Sequencer: the log's single writer. Callers queue batches of entries
// (already validated, leaf hashes computed off the lock); one thread takes
// whatever is queued (up to max_batch_entries), deduplicates by leaf hash,
// assigns indices, extends the in-memory compact range and edge tiles, and
// commits everything in one synced storage batch before acknowledging
// anyone in it (group commit: one fsync per batch, not per entry).
//
// Threads: Add, head(), status() and Stop() from any thread. The sequencer
// thread owns range_, edge_ and hasher_; done callbacks and on_commit run on
// it, so they must be quick and must not call Add or Stop.
//
// Failure is sticky: if a commit fails, the sequencer fails that batch and
// everything queued with Unavailable, and refuses all later work; the
// process must restart (recovery is the normal start-up path).
//
// A disk below its reserve (DiskReserve) is not a failure: Add and the
// batches already queued are refused with ResourceExhausted before anything
// is written, and writes resume once space is freed.
#ifndef INFRATRAIL_SERVER_SEQUENCER_H_
#define INFRATRAIL_SERVER_SEQUENCER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "core/compact_range.h"
#include "core/hash.h"
#include "server/disk_reserve.h"
#include "server/metrics.h"
#include "server/storage.h"

namespace infratrail {

struct SequencerOptions {
  // Most entries committed in one storage batch.
  size_t max_batch_entries = 16384;
  // Back-pressure: Add fails with ResourceExhausted beyond this many queued
  // entries (or bytes), so memory stays bounded however fast clients push.
  size_t max_pending_entries = 262144;
  size_t max_pending_bytes = size_t{256} << 20;
  // Checked before queueing and before each commit; null: no reserve.
  DiskReserve* disk_reserve = nullptr;
  // Non-empty: the store was opened read-only (e.g. its disk is full); the
  // sequencer loads the head but refuses every Add with Unavailable and this
  // reason, and runs no thread.
  std::string read_only_reason = {};
  // The code of that refusal: FailedPrecondition for a frozen log, which
  // will never take writes again (retrying is pointless).
  absl::StatusCode read_only_code = absl::StatusCode::kUnavailable;
};

struct PendingEntry {
  std::string data;
  Hash leaf_hash;
};

struct SequenceResult {
  uint64_t index = 0;
  bool duplicate = false;
};

struct TreeHead {
  uint64_t size = 0;
  Hash root{};
};

class Sequencer {
 public:
  // Called once per Add, after the batch holding its entries is durable
  // (status OK, one result per entry in order) or has failed.
  using AddDone = std::function<void(absl::Status, std::vector<SequenceResult>)>;
  // Called after every durable commit with the new head.
  using CommitListener = std::function<void(const TreeHead&)>;

  // Loads the committed state (tree state and edge tiles) and starts the
  // thread. This is the only start-up path, after a clean stop or a crash.
  static absl::StatusOr<std::unique_ptr<Sequencer>> Start(LogStorage* storage,
                                                          const SequencerOptions& options,
                                                          Metrics* metrics,
                                                          CommitListener on_commit);
  ~Sequencer();  // Stop()

  // Queues `entries` (non-empty). ResourceExhausted if the queue is full
  // (an Add exceeding the bounds alone is admitted into an empty queue),
  // Unavailable after Stop or a storage failure; `done` is not called then.
  absl::Status Add(std::vector<PendingEntry> entries, AddDone done);

  // The last durable tree head.
  TreeHead head() const;
  // OK while serving; the sticky storage error after a failed commit;
  // Unavailable when read-only; the reserve's refusal while the disk is
  // below it.
  absl::Status status() const;
  size_t queued_entries() const;

  // Refuses new work, commits and acknowledges everything already queued,
  // and joins the thread. Idempotent.
  void Stop();

 private:
  struct Request {
    std::vector<PendingEntry> entries;
    AddDone done;
  };

  Sequencer(LogStorage* storage, const SequencerOptions& options, Metrics* metrics,
            CommitListener on_commit);
  absl::Status LoadState();
  void Run();
  // Sequences and commits one batch; returns the commit status.
  absl::Status ProcessBatch(std::vector<Request>& batch);
  void AddToEdgeTile(NodeId id, const Hash& hash, CommitBatch& out);

  LogStorage* const storage_;
  const SequencerOptions options_;
  Metrics* const metrics_;
  const CommitListener on_commit_;

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<Request> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_entries_ ABSL_GUARDED_BY(mu_) = 0;
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
  TreeHead head_ ABSL_GUARDED_BY(mu_);

  // Owned by the sequencer thread (and LoadState before it starts).
  CompactRange range_;
  struct EdgeTile {
    uint64_t index = 0;
    std::vector<Hash> row;
    bool dirty = false;
  };
  std::vector<EdgeTile> edge_;  // per tile level: the rightmost, incomplete tile
  Hasher hasher_;

  std::thread thread_;
  absl::Mutex stop_mu_;  // serialises Stop
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_SEQUENCER_H_
