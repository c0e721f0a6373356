// Log: one running transparency log, put together from its parts: storage,
// tile cache, tree reader, sequencer, checkpoint signer and publisher. Open() is the
// only start-up path (after a clean stop or a crash) and makes every
// refusal check before anything is written:
//   - the data directory belongs to this log (origin and key);
//   - the signer state (beside the key) agrees with the stored tree: the
//     last signed tree is a prefix of it, so the directory was not restored
//     from an older backup nor forked;
//   - a lost signer state file is not silently recreated.
//
// Thread-safe. Owns everything but the storage and metrics.
#ifndef INFRATRAIL_SERVER_LOG_H_
#define INFRATRAIL_SERVER_LOG_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/note_key.h"
#include "core/tlog_policy.h"
#include "server/checkpoint_publisher.h"
#include "server/checkpoint_signer.h"
#include "server/metrics.h"
#include "server/sequencer.h"
#include "server/storage.h"
#include "server/tile_cache.h"
#include "server/tree_reader.h"
#include "server/witness_collector.h"

namespace infratrail {

struct LogOptions {
  NoteSigner key;                     // the log's signing key; its name is the origin
  std::string signer_state_path;      // outside the data directory
  bool recover_signer_state = false;  // adopt the stored checkpoint if the state file is lost
  SequencerOptions sequencer;
  PublisherOptions publisher;
  // The tile cache's budget, shared by proofs and the tiles HTTP API
  // (server/tile_cache.h).
  size_t tile_cache_bytes = size_t{1} << 30;
  // Non-empty: the storage was opened read-only (its disk is full). The log
  // serves reads and its stored checkpoint, writes nothing, and refuses
  // every write with Unavailable naming this reason.
  std::string read_only_reason = {};
  // Non-null: publish only checkpoints cosigned by this C2SP tlog-policy's
  // quorum of witnesses (server/witness_collector.h).
  std::shared_ptr<const TlogPolicy> witness_policy = nullptr;
  WitnessCollectorOptions witness = {};
  bool witness_fail_open = false;  // publish without the quorum after a failed round
  // Non-null: the tile cache to use (shared by the Logs a server of a
  // shared database opens in turn); null: the Log makes its own of
  // tile_cache_bytes.
  TileCache* tile_cache = nullptr;
  // Non-null: the last signed head is also kept there (the shared
  // database; CheckpointSigner). Must outlive the Log.
  SharedSignerState* shared_signer_state = nullptr;
  // A standby of a shared database (read_only_reason says so): serves what
  // the leader published, and may open a store no leader has claimed yet.
  bool standby = false;
};

// What `infratrail-server freeze` stores under kMetaFrozen.
struct FrozenState {
  uint64_t size = 0;
  std::string successor;  // the next log's origin; empty if not named
};
std::string EncodeFrozenState(const FrozenState& state);
absl::StatusOr<FrozenState> ParseFrozenState(absl::string_view text);

class Log {
 public:
  static absl::StatusOr<std::unique_ptr<Log>> Open(LogStorage* storage, const LogOptions& options,
                                                   Metrics* metrics);
  ~Log();  // Stop()

  const std::string& origin() const { return origin_; }
  const std::string& verifier_key() const { return verifier_key_; }
  LogStorage& storage() { return *storage_; }
  TileCache& tile_cache() { return *tile_cache_; }
  bool standby() const { return standby_; }
  TreeReader& reader() { return *reader_; }
  Sequencer& sequencer() { return *sequencer_; }
  CheckpointPublisher& publisher() { return *publisher_; }

  // OK while the log accepts writes and publishes checkpoints; otherwise
  // why not (a storage failure, read-only, a disk below its reserve,
  // checkpoint publishing failing). Some of these pass by themselves.
  absl::Status health() const;

  // The log is frozen (kMetaFrozen): read-only for good, its writes refused
  // with FailedPrecondition naming the successor; health() is OK.
  bool frozen() const { return frozen_; }

  // Drain: refuses new writes, commits and acknowledges what is queued,
  // publishes a checkpoint covering it, stops the threads. Idempotent.
  void Stop();

 private:
  Log() = default;

  std::string origin_;
  std::string verifier_key_;
  bool frozen_ = false;
  bool standby_ = false;
  LogStorage* storage_ = nullptr;
  std::unique_ptr<TileCache> own_tile_cache_;  // unless LogOptions::tile_cache
  TileCache* tile_cache_ = nullptr;            // before reader_, which uses it
  std::unique_ptr<TreeReader> reader_;
  std::unique_ptr<CheckpointSigner> signer_;
  std::unique_ptr<WitnessCollector> witnesses_;  // before publisher_, which uses it
  std::unique_ptr<CheckpointPublisher> publisher_;
  std::unique_ptr<Sequencer> sequencer_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_LOG_H_
