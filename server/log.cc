#include "server/log.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace infratrail {
namespace {

// Whether the data directory is still unclaimed (no identity yet). Writes
// nothing: Open claims the directory only once every refusal check passed.
absl::StatusOr<bool> CheckIdentity(LogStorage* storage, const std::string& vkey,
                                   uint64_t tree_size) {
  absl::StatusOr<std::optional<std::string>> id = storage->GetMeta(kMetaLogIdentity);
  if (!id.ok()) return id.status();
  if (!id->has_value()) {
    if (tree_size != 0) {
      return absl::DataLossError("data directory has entries but no log identity");
    }
    return true;
  }
  if (**id != vkey) {
    return absl::FailedPreconditionError(absl::StrCat("data directory belongs to log key ", **id,
                                                      ", not ", vkey,
                                                      " (wrong --signing-key or --data-dir?)"));
  }
  return false;
}

}  // namespace

std::string EncodeFrozenState(const FrozenState& state) {
  std::string out = absl::StrCat("size ", state.size, "\n");
  if (!state.successor.empty()) absl::StrAppend(&out, "successor ", state.successor, "\n");
  return out;
}

absl::StatusOr<FrozenState> ParseFrozenState(absl::string_view text) {
  FrozenState state;
  bool have_size = false;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "size ")) {
      have_size = absl::SimpleAtoi(line, &state.size);
    } else if (absl::ConsumePrefix(&line, "successor ")) {
      state.successor = std::string(line);
    }
  }
  if (!have_size) return absl::DataLossError("stored frozen state has no size");
  return state;
}

absl::StatusOr<std::unique_ptr<Log>> Log::Open(LogStorage* storage, const LogOptions& options,
                                               Metrics* metrics) {
  std::unique_ptr<Log> log(new Log());
  log->storage_ = storage;
  log->origin_ = options.key.name();
  log->verifier_key_ = options.key.VerifierKey();
  absl::StatusOr<TreeState> state = storage->ReadTreeState();
  if (!state.ok()) return state.status();
  absl::StatusOr<bool> unclaimed = CheckIdentity(storage, log->verifier_key_, state->size);
  if (!unclaimed.ok()) return unclaimed.status();
  log->standby_ = options.standby;
  if (options.tile_cache != nullptr) {
    log->tile_cache_ = options.tile_cache;
  } else {
    log->own_tile_cache_ = std::make_unique<TileCache>(options.tile_cache_bytes, metrics);
    log->tile_cache_ = log->own_tile_cache_.get();
  }
  log->reader_ = std::make_unique<TreeReader>(storage, log->tile_cache_);

  absl::StatusOr<CheckpointSigner> signer =
      CheckpointSigner::Open(options.key, options.signer_state_path, options.shared_signer_state);
  if (!signer.ok()) return signer.status();
  log->signer_ = std::make_unique<CheckpointSigner>(std::move(*signer));
  std::optional<SignedHead> last = log->signer_->last_signed();
  bool adopt = false;
  if (!last.has_value()) {
    absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>> stored =
        ReadStoredCheckpoint(*storage);
    if (!stored.ok()) return stored.status();
    if (*stored != nullptr) {
      if (!options.recover_signer_state) {
        return absl::FailedPreconditionError(
            absl::StrCat("signer state ", options.signer_state_path,
                         " is missing but the data directory holds "
                         "a checkpoint of size ",
                         (*stored)->size,
                         "; restore the state file, or start once "
                         "with --recover-signer-state to adopt the stored checkpoint"));
      }
      // Adopted below, once the checks agree with it.
      last = SignedHead{(*stored)->size, (*stored)->root};
      adopt = true;
    }
  }
  // The head to continue from is the larger of the shared one and what
  // this server signed (its state file); each is checked, as either could
  // reveal a store rolled back or forked.
  struct Recorded {
    SignedHead head;
    std::string where;
  };
  std::vector<Recorded> recorded;
  const std::optional<SignedHead>& local = log->signer_->local_signed();
  if (local.has_value()) recorded.push_back({*local, options.signer_state_path});
  // A standby reads the shared head after the tree, while its leader goes
  // on: only its own state file is checked (the leader checks the shared
  // head when it takes over, with no other writer left).
  if (last.has_value() && (!local.has_value() || local->size != last->size) && !options.standby) {
    recorded.push_back({*last, adopt ? std::string("the stored checkpoint")
                                     : std::string("the database's signer state")});
  }
  const std::string store = options.shared_signer_state != nullptr ? "database" : "data directory";
  for (const Recorded& r : recorded) {
    if (r.head.size > state->size) {
      return absl::FailedPreconditionError(absl::StrCat(
          store, " tree size ", state->size, " is smaller than the last signed checkpoint size ",
          r.head.size, " recorded in ", r.where, ": the ", store,
          " was restored from an older copy; refusing to start"));
    }
    absl::StatusOr<Hash> root = log->reader_->RootAt(r.head.size);
    if (!root.ok()) return root.status();
    if (*root != r.head.root) {
      return absl::FailedPreconditionError(
          absl::StrCat(store, " tree at size ", r.head.size, " has root ", HashToBase64(*root),
                       " but the signer signed ", HashToBase64(r.head.root), " (recorded in ",
                       r.where, "): refusing to start (fork)"));
    }
  }
  std::string read_only_reason = options.read_only_reason;
  absl::StatusOr<std::optional<std::string>> frozen = storage->GetMeta(kMetaFrozen);
  if (!frozen.ok()) return frozen.status();
  if (frozen->has_value()) {
    absl::StatusOr<FrozenState> f = ParseFrozenState(**frozen);
    if (!f.ok()) return f.status();
    log->frozen_ = true;
    read_only_reason = absl::StrCat("log ", log->origin_, " is frozen at size ", f->size,
                                    f->successor.empty()
                                        ? std::string(" (no successor named)")
                                        : absl::StrCat("; write to its successor ", f->successor));
  }
  const bool read_only = !read_only_reason.empty();
  if (read_only && *unclaimed && !options.standby) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot start a new log read-only (", read_only_reason, ")"));
  }
  // Every refusal check passed: only now claim the directory and adopt.
  // (Read-only, the adopted head is used in memory only.)
  if (*unclaimed && !read_only) {
    if (absl::Status st = storage->PutMeta(kMetaLogIdentity, log->verifier_key_); !st.ok()) {
      return st;
    }
  }
  if (adopt && !read_only) {
    if (absl::Status st = log->signer_->Adopt(*last); !st.ok()) return st;
  }

  // The sequencer starts first (it loads the head); its commits go to the
  // publisher, which starts right after, before any Add can be accepted.
  Log* raw = log.get();
  SequencerOptions seq_opts = options.sequencer;
  seq_opts.read_only_reason = read_only_reason;
  if (log->frozen_) seq_opts.read_only_code = absl::StatusCode::kFailedPrecondition;
  PublisherOptions pub_opts = options.publisher;
  pub_opts.read_only_reason = read_only_reason;
  pub_opts.standby = options.standby;
  if (options.witness_policy != nullptr && !read_only) {
    absl::StatusOr<std::optional<std::string>> sizes = storage->GetMeta(kMetaWitnessSizes);
    if (!sizes.ok()) return sizes.status();
    TreeReader* reader = log->reader_.get();
    absl::StatusOr<std::unique_ptr<WitnessCollector>> witnesses = WitnessCollector::Start(
        options.witness_policy, sizes->value_or(""),
        [reader](uint64_t a, uint64_t b) { return reader->ConsistencyProof(a, b); },
        options.witness, metrics);
    if (!witnesses.ok()) return witnesses.status();
    log->witnesses_ = *std::move(witnesses);
    pub_opts.witnesses = log->witnesses_.get();
    pub_opts.fail_open = options.witness_fail_open;
  }
  absl::StatusOr<std::unique_ptr<Sequencer>> seq = Sequencer::Start(
      storage, seq_opts, metrics, [raw](const TreeHead& head) { raw->publisher_->OnCommit(head); });
  if (!seq.ok()) return seq.status();
  log->sequencer_ = std::move(*seq);
  absl::StatusOr<std::unique_ptr<CheckpointPublisher>> pub = CheckpointPublisher::Start(
      storage, log->signer_.get(), log->reader_.get(), log->sequencer_->head(), pub_opts, metrics);
  if (!pub.ok()) {
    log->sequencer_->Stop();
    return pub.status();
  }
  log->publisher_ = std::move(*pub);
  return log;
}

Log::~Log() { Stop(); }

absl::Status Log::health() const {
  // Frozen is the log's intended final state: it serves everything it
  // should (reads, its final checkpoint) and refuses writes by design.
  if (frozen_) return absl::OkStatus();
  if (absl::Status st = sequencer_->status(); !st.ok()) return st;
  return publisher_->status();
}

void Log::Stop() {
  if (sequencer_ != nullptr) sequencer_->Stop();
  if (publisher_ != nullptr) publisher_->Stop();
  if (witnesses_ != nullptr) witnesses_->Stop();
}

}  // namespace infratrail
