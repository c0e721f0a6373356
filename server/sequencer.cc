#include "server/sequencer.h"

#include <chrono>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/check.h"
#include "core/tile.h"

namespace infratrail {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

Sequencer::Sequencer(LogStorage* storage, const SequencerOptions& options, Metrics* metrics,
                     CommitListener on_commit)
    : storage_(storage),
      options_(options),
      metrics_(metrics),
      on_commit_(std::move(on_commit)),
      edge_(kMaxTileLevel + 1) {}

absl::StatusOr<std::unique_ptr<Sequencer>> Sequencer::Start(LogStorage* storage,
                                                            const SequencerOptions& options,
                                                            Metrics* metrics,
                                                            CommitListener on_commit) {
  std::unique_ptr<Sequencer> s(new Sequencer(storage, options, metrics, std::move(on_commit)));
  if (absl::Status st = s->LoadState(); !st.ok()) return st;
  if (!options.read_only_reason.empty()) {
    absl::MutexLock l(&s->mu_);
    s->failed_ = absl::Status(options.read_only_code,
                              absl::StrCat("log is read-only: ", options.read_only_reason));
    metrics->sequencer_healthy.Set(0);
    return s;
  }
  s->thread_ = std::thread([p = s.get()] { p->Run(); });
  return s;
}

Sequencer::~Sequencer() { Stop(); }

absl::Status Sequencer::LoadState() {
  absl::StatusOr<TreeState> state = storage_->ReadTreeState();
  if (!state.ok()) return state.status();
  absl::StatusOr<CompactRange> range = CompactRange::FromHashes(0, state->size, state->right_edge);
  if (!range.ok()) return absl::DataLossError(range.status().message());
  range_ = std::move(*range);
  absl::StatusOr<Hash> root = range_.Root(hasher_);
  if (!root.ok()) return root.status();
  // The rightmost tile of each level is incomplete (possibly empty); load
  // the committed part so the next batch extends it. A read-only sequencer
  // commits nothing and needs the head alone (and a standby's store is
  // written meanwhile by its leader: its tiles may be ahead of the state).
  for (uint32_t level = 0; options_.read_only_reason.empty() && level < edge_.size(); ++level) {
    const uint32_t shift = kTileHeight * level;
    const uint64_t nodes = state->size >> shift;
    EdgeTile& e = edge_[level];
    e.index = nodes / kTileWidth;
    const size_t width = nodes % kTileWidth;
    if (width == 0) continue;
    absl::StatusOr<std::string> bytes = storage_->ReadTile(TileId{level, e.index});
    if (!bytes.ok()) {
      return absl::DataLossError(absl::StrCat("start-up: edge tile ", level, "/", e.index,
                                              " of tree size ", state->size, ": ",
                                              bytes.status().message()));
    }
    absl::StatusOr<std::vector<Hash>> row = DecodeHashTile(*bytes);
    if (!row.ok() || row->size() != width) {
      return absl::DataLossError(absl::StrCat(
          "start-up: edge tile ", level, "/", e.index, " holds ", bytes->size() / kHashSize,
          " hashes, tree size ", state->size, " needs ", width));
    }
    e.row = std::move(*row);
  }
  absl::MutexLock l(&mu_);
  head_ = TreeHead{state->size, *root};
  metrics_->tree_size.Set(static_cast<double>(state->size));
  metrics_->sequencer_healthy.Set(1);
  return absl::OkStatus();
}

absl::Status Sequencer::Add(std::vector<PendingEntry> entries, AddDone done) {
  if (entries.empty()) return absl::InvalidArgumentError("Add: no entries");
  size_t bytes = 0;
  for (const PendingEntry& e : entries) bytes += e.data.size();
  if (options_.disk_reserve != nullptr) {
    if (absl::Status st = options_.disk_reserve->Check(); !st.ok()) {
      metrics_->rejected_disk_reserve.Increment();
      return st;
    }
  }
  absl::MutexLock l(&mu_);
  if (!failed_.ok()) {
    if (!options_.read_only_reason.empty()) return failed_;
    return absl::UnavailableError(
        absl::StrCat("log is not accepting writes after a storage failure: ", failed_.message()));
  }
  if (stopping_) return absl::UnavailableError("log is shutting down");
  // An Add larger than the bounds on its own is admitted into an empty
  // queue, so a retry of it eventually succeeds.
  if (queued_entries_ > 0 && (queued_entries_ + entries.size() > options_.max_pending_entries ||
                              queued_bytes_ + bytes > options_.max_pending_bytes)) {
    metrics_->rejected_queue_full.Increment();
    return absl::ResourceExhaustedError(absl::StrCat("sequencer queue full (", queued_entries_,
                                                     " entries waiting); retry with backoff"));
  }
  queued_entries_ += entries.size();
  queued_bytes_ += bytes;
  metrics_->queue_entries.Set(static_cast<double>(queued_entries_));
  queue_.push_back(Request{std::move(entries), std::move(done)});
  return absl::OkStatus();
}

TreeHead Sequencer::head() const {
  absl::MutexLock l(&mu_);
  return head_;
}

absl::Status Sequencer::status() const {
  {
    absl::MutexLock l(&mu_);
    if (!failed_.ok()) return failed_;
  }
  if (options_.disk_reserve != nullptr) return options_.disk_reserve->Check();
  return absl::OkStatus();
}

size_t Sequencer::queued_entries() const {
  absl::MutexLock l(&mu_);
  return queued_entries_;
}

void Sequencer::Stop() {
  absl::MutexLock stop(&stop_mu_);
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Sequencer::Run() {
  for (;;) {
    std::vector<Request> batch;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(
          +[](Sequencer* s)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) { return !s->queue_.empty() || s->stopping_; },
          this));
      if (queue_.empty()) return;  // stopping, and everything queued is done
      size_t n = 0;
      while (!queue_.empty() &&
             (batch.empty() || n + queue_.front().entries.size() <= options_.max_batch_entries)) {
        n += queue_.front().entries.size();
        for (const PendingEntry& e : queue_.front().entries) queued_bytes_ -= e.data.size();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_entries_ -= n;
      metrics_->queue_entries.Set(static_cast<double>(queued_entries_));
    }
    // Below the disk reserve, refuse the batch before anything changes
    // (in memory or on disk): the refusal is not a failure, and later
    // batches go ahead once space is freed.
    if (options_.disk_reserve != nullptr) {
      uint64_t batch_bytes = 0;
      for (const Request& r : batch) {
        for (const PendingEntry& e : r.entries) batch_bytes += e.data.size();
      }
      if (absl::Status full = options_.disk_reserve->Check(batch_bytes); !full.ok()) {
        metrics_->rejected_disk_reserve.Increment();
        for (Request& r : batch) r.done(full, {});
        continue;
      }
    }
    absl::Status st = ProcessBatch(batch);
    if (st.ok()) continue;

    // Sticky failure: the store's state is unknown, so nothing more may be
    // acknowledged on top of it. Fail this batch and everything queued.
    std::deque<Request> rest;
    {
      absl::MutexLock l(&mu_);
      failed_ = st;
      rest.swap(queue_);
      queued_entries_ = 0;
      queued_bytes_ = 0;
    }
    metrics_->sequencer_healthy.Set(0);
    metrics_->queue_entries.Set(0);
    const absl::Status err = absl::UnavailableError(
        absl::StrCat("log is not accepting writes after a storage failure: ", st.message()));
    for (Request& r : batch) r.done(err, {});
    for (Request& r : rest) r.done(err, {});
    return;
  }
}

void Sequencer::AddToEdgeTile(NodeId id, const Hash& hash, CommitBatch& out) {
  if (id.level % kTileHeight != 0) return;
  EdgeTile& e = edge_[id.level / kTileHeight];
  INFRATRAIL_CHECK(id.index / kTileWidth == e.index && id.index % kTileWidth == e.row.size())
      << "node " << id.DebugString() << " out of order for edge tile " << e.index;
  e.row.push_back(hash);
  e.dirty = true;
  if (e.row.size() == kTileWidth) {
    out.tiles.emplace_back(TileId{id.level / kTileHeight, e.index}, EncodeHashTile(e.row));
    e.row.clear();
    e.dirty = false;
    ++e.index;
  }
}

absl::Status Sequencer::ProcessBatch(std::vector<Request>& batch) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<Hash> hashes;
  for (const Request& r : batch) {
    for (const PendingEntry& e : r.entries) hashes.push_back(e.leaf_hash);
  }
  std::vector<std::optional<uint64_t>> found;
  if (absl::Status st = storage_->LookupLeaves(hashes, &found); !st.ok()) return st;

  CommitBatch cb;
  cb.first_index = range_.end();
  cb.entries.reserve(hashes.size());
  cb.leaf_hashes.reserve(hashes.size());
  absl::flat_hash_map<Hash, uint64_t> added;  // new in this batch
  std::vector<std::vector<SequenceResult>> results(batch.size());
  const CompactRange::Visitor visit = [&](NodeId id, const Hash& h) { AddToEdgeTile(id, h, cb); };
  size_t i = 0;
  for (size_t r = 0; r < batch.size(); ++r) {
    results[r].reserve(batch[r].entries.size());
    for (const PendingEntry& e : batch[r].entries) {
      if (found[i].has_value()) {
        results[r].push_back({*found[i], true});
      } else if (auto it = added.find(e.leaf_hash); it != added.end()) {
        results[r].push_back({it->second, true});
      } else {
        const uint64_t index = range_.end();
        range_.AppendLeaf(e.leaf_hash, hasher_, visit);
        cb.entries.push_back(e.data);
        cb.leaf_hashes.push_back(e.leaf_hash);
        added.emplace(e.leaf_hash, index);
        results[r].push_back({index, false});
      }
      ++i;
    }
  }
  for (uint32_t level = 0; level < edge_.size(); ++level) {
    EdgeTile& e = edge_[level];
    if (!e.dirty) continue;
    cb.tiles.emplace_back(TileId{level, e.index, static_cast<uint32_t>(e.row.size())},
                          EncodeHashTile(e.row));
    e.dirty = false;
  }
  absl::StatusOr<Hash> root = range_.Root(hasher_);
  if (!root.ok()) return root.status();

  if (!cb.entries.empty()) {
    cb.state = TreeState{range_.end(), range_.hashes()};
    const auto commit_start = std::chrono::steady_clock::now();
    if (absl::Status st = storage_->Commit(cb); !st.ok()) return st;
    metrics_->commit_seconds.Observe(SecondsSince(commit_start));
  }
  // Commit point: the batch is durable. If we die from here on, start-up
  // loads this state, and a client retrying an entry it never heard back
  // about gets its index as a duplicate.
  const TreeHead head{range_.end(), *root};
  {
    absl::MutexLock l(&mu_);
    head_ = head;
  }
  metrics_->entries_appended.Increment(static_cast<double>(cb.entries.size()));
  metrics_->entries_duplicate.Increment(static_cast<double>(hashes.size() - cb.entries.size()));
  metrics_->batch_entries.Observe(static_cast<double>(hashes.size()));
  metrics_->tree_size.Set(static_cast<double>(head.size));
  metrics_->batch_seconds.Observe(SecondsSince(start));
  for (size_t r = 0; r < batch.size(); ++r) batch[r].done(absl::OkStatus(), std::move(results[r]));
  if (on_commit_ && !cb.entries.empty()) on_commit_(head);
  return absl::OkStatus();
}

}  // namespace infratrail
