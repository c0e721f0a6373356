#include "verifier/monitor/tree_auditor.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/checkpoint.h"
#include "core/node_id.h"
#include "core/note.h"
#include "core/proof.h"
#include "verifier/monitor/log_proof.h"

namespace infratrail {

bool MarkRaised(AuditState* state, std::string key) {
  if (std::find(state->raised.begin(), state->raised.end(), key) != state->raised.end()) {
    return false;
  }
  state->raised.push_back(std::move(key));
  // Bounded: the oldest keys go first.
  if (state->raised.size() > kMaxRaisedKeys) state->raised.erase(state->raised.begin());
  return true;
}

std::string OperationalKind(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kDeadlineExceeded:
      return "timeout";
    case absl::StatusCode::kNotFound:
      return "not_found";
    case absl::StatusCode::kResourceExhausted:
      return "too_large";
    case absl::StatusCode::kFailedPrecondition:
      return "http_status";
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kDataLoss:
      return "malformed";
    default:
      return "unreachable";
  }
}

namespace {

// One batch of bundles with their level-0 tiles, and the tiles of levels
// >= 1 those bundles complete (with the partial ones after the last
// bundle), fetched on the pipeline's thread, which also decodes the bundles
// and hashes their entries: the auditor's thread is left the tree above the
// leaves and the checks.
struct Batch {
  // Bundle, its hash tile, bundle, ... (bundles alone from a source that
  // serves no hash tiles), then the tiles of levels >= 1.
  std::vector<TileId> req;
  std::vector<absl::StatusOr<std::string>> bodies;
  size_t bundles = 0;  // req[0, bundles * step) are bundles and level-0 tiles
  // Per bundle, in order: its entries (views into its body) and their
  // leaf hashes; an error when the bundle could not be decoded.
  std::vector<absl::StatusOr<std::vector<absl::string_view>>> entries;
  std::vector<std::vector<Hash>> leaves;

  // The body of `t` (a tile of level >= 1), if this batch fetched it.
  const absl::StatusOr<std::string>* Find(const TileId& t) const {
    for (size_t i = req.size(); i-- > 0;) {
      if (req[i] == t) return &bodies[i];
    }
    return nullptr;
  }
};

// Fetches the batches of one audit in order on a thread of its own (the
// source's only user while it runs), one batch ahead of the batch the
// auditor is taking, so neither thread waits on the other while the other
// is busy. Batches start at 4 bundles and double up to `per_batch`, but
// bundles can be 16.8 MB each and three batches are held at once (one
// audited, one ready, one being fetched): never more than fit `budget`
// at the largest bundle seen so far. A log of huge bundles is read a few
// at a time.
class Pipeline {
 public:
  struct Plan {
    LogSource* src = nullptr;
    uint64_t size = 0;          // of the checkpoint audited
    uint64_t first_bundle = 0;  // the bundle holding the next entry
    bool tiles = true;          // the source serves hash tiles
    size_t per_batch = 64;
    size_t budget = 0;
  };
  explicit Pipeline(const Plan& plan) : plan_(plan), thread_([this] { Run(); }) {}
  ~Pipeline() {
    {
      absl::MutexLock l(&mu_);
      stop_ = true;
    }
    thread_.join();
  }
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // The next batch, once fetched; empty (no req) after the last one.
  Batch Take() {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(this, &Pipeline::ReadyOrDone));
    if (ready_.empty()) return Batch{};
    Batch out = std::move(ready_.front());
    ready_.pop_front();
    return out;
  }

 private:
  static constexpr size_t kReadyAhead = 1;
  static constexpr size_t kHeld = kReadyAhead + 2;

  bool ReadyOrDone() const ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !ready_.empty() || done_; }
  bool RoomOrStop() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return ready_.size() < kReadyAhead || stop_;
  }

  void Run() {
    // Rounded up without overflow: a signed size near 2^64 (a log can
    // sign anything) would wrap (size + 255) to 0 bundles.
    const uint64_t bundles = plan_.size / kTileWidth + (plan_.size % kTileWidth != 0 ? 1 : 0);
    uint64_t next = plan_.first_bundle;
    size_t ramp = 4;
    size_t largest = 0;
    Hasher hasher;
    while (next < bundles) {
      {
        absl::MutexLock l(&mu_);
        mu_.Await(absl::Condition(this, &Pipeline::RoomOrStop));
        if (stop_) break;
      }
      size_t n = std::min(ramp, plan_.per_batch);
      if (largest > 0) n = std::min(n, std::max<size_t>(1, plan_.budget / (kHeld * largest)));
      ramp = std::min(ramp * 2, plan_.per_batch);
      const uint64_t end = std::min<uint64_t>(bundles, next + n);
      Batch b = Fetch(next, end, bundles, hasher);
      for (const absl::StatusOr<std::string>& body : b.bodies) {
        if (body.ok()) largest = std::max(largest, body->size());
      }
      next = end;
      absl::MutexLock l(&mu_);
      ready_.push_back(std::move(b));
    }
    absl::MutexLock l(&mu_);
    done_ = true;
  }

  // Bundles [first, end) of `bundles`, with the tiles they complete.
  Batch Fetch(uint64_t first, uint64_t end, uint64_t bundles, Hasher& hasher) {
    Batch b;
    for (uint64_t i = first; i < end; ++i) {
      const uint32_t w = TileWidthAt(0, i, plan_.size);
      b.req.push_back(TileId{.level = 0, .index = i, .width = w, .entries = true});
      if (plan_.tiles) b.req.push_back(TileId{.level = 0, .index = i, .width = w});
    }
    b.bundles = end - first;
    if (plan_.tiles) {
      // A full bundle i completes the level-L tile (i + 1) / 256^L - 1
      // when 256^L divides i + 1.
      for (uint64_t i = first; i < end; ++i) {
        if (TileWidthAt(0, i, plan_.size) != kTileWidth) continue;
        for (uint32_t level = 1; level <= kMaxTileLevel; ++level) {
          const uint32_t shift = kTileHeight * level;
          if (shift >= 64 || ((i + 1) & ((uint64_t{1} << shift) - 1)) != 0) break;
          b.req.push_back(TileId{.level = level, .index = ((i + 1) >> shift) - 1});
        }
      }
      // After the last bundle, the partial tiles of levels >= 1.
      for (uint32_t level = 1; end == bundles && level <= kMaxTileLevel; ++level) {
        const uint32_t shift = kTileHeight * level;
        if (shift >= 64) break;
        const uint64_t nodes = plan_.size >> shift;  // complete nodes of tree level 8L
        if (nodes % kTileWidth == 0) continue;
        b.req.push_back(TileId{.level = level,
                               .index = nodes / kTileWidth,
                               .width = static_cast<uint32_t>(nodes % kTileWidth)});
      }
    }
    b.entries.assign(b.bundles, absl::InternalError("not fetched"));
    b.leaves.resize(b.bundles);
    const size_t step = plan_.tiles ? 2 : 1;
    // Each bundle is decoded and hashed as it arrives, while the rest of
    // the batch is still on the way.
    b.bodies =
        plan_.src->StreamTiles(b.req, [&](size_t k, const absl::StatusOr<std::string>& body) {
          if (k >= b.bundles * step || !b.req[k].entries) return;
          absl::StatusOr<std::vector<absl::string_view>>& entries = b.entries[k / step];
          if (!body.ok()) {
            entries = body.status();
            return;
          }
          entries = DecodeEntryBundleViews(*body);
          if (!entries.ok()) return;
          std::vector<Hash>& leaves = b.leaves[k / step];
          leaves.reserve(entries->size());
          for (absl::string_view e : *entries) leaves.push_back(hasher.HashLeaf(e));
        });
    return b;
  }

  const Plan plan_;
  absl::Mutex mu_;
  std::deque<Batch> ready_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started once the rest is built
};

// The checkpoint the audit measures the latest one against: the target if
// the audit is extending toward one, else the trusted one.
struct Reference {
  std::string note;
  uint64_t size = 0;
  Hash root = Hasher::EmptyRoot();
};

}  // namespace

// The state of one round: what it read, what it found.
struct TreeAuditor::Round_ {
  Round_(const AuditorOptions& o, Hasher& h, AuditState* state, LogSource* source,
         AuditObserver* observer)
      : opt(o),
        hasher(h),
        st(state),
        src(source),
        obs(observer),
        origin(o.log_key.name()),
        committed(*state) {}

  const AuditorOptions& opt;
  Hasher& hasher;
  AuditState* st;
  LogSource* src;
  AuditObserver* obs;
  std::string origin;
  AuditState committed;
  RoundResult result;
  std::vector<Finding>
      findings;  // not yet committed  // *st as of the last commit (or the round's start)

  // An operational stop inside a batch: back to the last commit, whose
  // state is whole (the batch's upper tiles may not be checked yet).
  bool Stop() {
    *st = committed;
    findings.clear();
    return false;
  }

  void Operational(std::string kind, std::string message) {
    result.operational.push_back(
        OperationalEvent{.origin = origin, .kind = std::move(kind), .message = std::move(message)});
  }
  void Operational(const absl::Status& status) {
    Operational(OperationalKind(status), std::string(status.message()));
  }

  // A finding about the log as a whole (key: raised once per distinct lie).
  void Raise(Severity sev, std::string rule, std::string message, std::string key,
             std::vector<EvidenceFile> evidence) {
    if (!key.empty() && !MarkRaised(st, std::move(key))) {
      if (sev != Severity::kWarning) ++result.known;
      return;
    }
    Count(sev);
    Finding f;
    f.time = absl::Now();
    f.severity = sev;
    f.rule = std::move(rule);
    f.origin = origin;
    f.message = std::move(message);
    if (sev == Severity::kCritical) {
      evidence.push_back(EvidenceFile{.name = "README", .bytes = absl::StrCat(f.message, "\n")});
      f.evidence_files = std::move(evidence);
    }
    findings.push_back(std::move(f));
  }
  void Count(Severity sev) {
    if (sev == Severity::kCritical) ++result.critical;
    if (sev == Severity::kAlert) ++result.alert;
    if (sev == Severity::kWarning) ++result.warning;
    if (sev == Severity::kNotice) ++result.notice;
  }

  bool Commit() {
    for (const Finding& f : findings) {
      if (f.index.has_value()) Count(f.severity);  // entry findings counted here
    }
    if (absl::Status s = obs->Commit(*st, std::move(findings)); !s.ok()) {
      Operational("state", absl::StrCat("commit: ", s.message()));
      findings.clear();
      *st = committed;
      return false;
    }
    findings.clear();
    committed = *st;
    return true;
  }

  // Falls back to the trusted checkpoint's audit position.
  void Reset() {
    st->target_note.clear();
    st->next = st->trusted_next;
    st->range = st->trusted_range;
    st->rows = st->trusted_rows;
  }

  std::optional<VerifiedCheckpoint> Open(const std::string& note, bool* lied,
                                         std::string* unwitnessed);
  bool Run();
  enum class Proof { kOk, kInconsistent, kStopped };
  Proof ProveConsistency(const Reference& ref, const std::string& note, const Checkpoint& cp);
  bool AuditEntries(const Checkpoint& cp, const std::string& note);
  enum class Check { kOk, kMismatch, kStopped };
  Check CheckTile(const TileId& t, absl::Span<const Hash> expected,
                  const absl::StatusOr<std::string>& body, const std::string& note);
  // A lie found while auditing toward the target: back to the trusted
  // position, commit the finding, end the round.
  bool Lied() {
    result.complete = true;
    Reset();
    // What the entries past the trusted position said came from a lying
    // checkpoint: they are audited (and their findings raised) again once
    // the log serves a consistent one.
    std::erase_if(findings,
                  [this](const Finding& f) { return f.index.has_value() && *f.index >= st->next; });
    Commit();
    return false;
  }
  // What a tile check means for the round: nullopt to go on, else the
  // round's return value (a lie found, or an operational stop).
  std::optional<bool> After(Check c) {
    if (c == Check::kOk) return std::nullopt;
    return c == Check::kMismatch ? Lied() : Stop();
  }
  void Trust(const std::string& note) {
    st->trusted_note = note;
    st->target_note.clear();
    st->trusted_next = st->next;
    st->trusted_range = st->range;
    st->trusted_rows = st->rows;
  }
};

// Verifies `note` with the log's key; nullopt with an operational event or
// a finding (*lied) when it cannot be used. *unwitnessed: why it does not
// meet the witness quorum, empty if it does (or none is required).
std::optional<VerifiedCheckpoint> TreeAuditor::Round_::Open(const std::string& note, bool* lied,
                                                            std::string* unwitnessed) {
  *lied = false;
  unwitnessed->clear();
  absl::StatusOr<VerifiedCheckpoint> own = OpenCheckpoint(note, opt.log_key, WitnessPolicy{});
  if (!own.ok()) {
    // A signature line for the log's own key that does not verify is a
    // forgery or a corruption the log signed for; anything else (an HTML
    // error page, a truncated body) is a malformed response.
    bool claims_key = false;
    if (absl::StatusOr<Note> parsed = ParseNote(note); parsed.ok()) {
      for (const NoteSignature& s : parsed->unverified) {
        claims_key |= s.name == opt.log_key.name() && s.key_id == opt.log_key.key_id();
      }
    }
    if (claims_key && own.status().code() == absl::StatusCode::kUnauthenticated) {
      *lied = true;
      Raise(Severity::kCritical, "log.bad_signature",
            absl::StrCat("checkpoint from ", src->Describe(),
                         " carries a signature by the log's key that does not verify: ",
                         own.status().message()),
            absl::StrCat("bad_signature:", HashToHex(Sha256(note))),
            {EvidenceFile{.name = "received.checkpoint", .bytes = note}});
      return std::nullopt;
    }
    Operational("malformed", absl::StrCat("checkpoint: ", own.status().message()));
    return std::nullopt;
  }
  if (opt.witnesses.requires_cosignatures()) {
    absl::StatusOr<VerifiedCheckpoint> quorum = OpenCheckpoint(note, opt.log_key, opt.witnesses);
    if (!quorum.ok()) {
      *unwitnessed = std::string(quorum.status().message());
      return *own;
    }
    return *quorum;
  }
  return *own;
}

bool TreeAuditor::Round_::Run() {
  absl::StatusOr<std::string> note = src->Checkpoint(false);
  if (!note.ok()) {
    Operational(note.status());
    return false;
  }
  bool lied = false;
  std::string unwitnessed;
  std::optional<VerifiedCheckpoint> vc = Open(*note, &lied, &unwitnessed);
  if (!vc.has_value()) return lied && Commit();
  Checkpoint cp = vc->checkpoint;
  result.log_size = cp.size;

  Reference ref;
  const std::string& ref_note = st->target_note.empty() ? st->trusted_note : st->target_note;
  if (!ref_note.empty()) {
    absl::StatusOr<Checkpoint> r = Checkpoint::Parse(ParseNote(ref_note)->text);
    ref = Reference{.note = ref_note, .size = r->size, .root = r->root};
  }

  if (cp.size < ref.size) {
    // Caches can hold an old checkpoint: ask for a fresh one before
    // calling it a rollback.
    absl::StatusOr<std::string> fresh = src->Checkpoint(true);
    if (!fresh.ok()) {
      Operational(fresh.status());
      return false;
    }
    std::optional<VerifiedCheckpoint> fvc = Open(*fresh, &lied, &unwitnessed);
    if (!fvc.has_value()) return lied && Commit();
    *note = *fresh;
    cp = fvc->checkpoint;
    result.log_size = cp.size;
  }
  if (cp.size < ref.size) {
    Raise(Severity::kCritical, "log.rollback",
          absl::StrCat("the log signed a checkpoint of size ", cp.size, " after one of size ",
                       ref.size, " (both signatures verify)"),
          absl::StrCat("rollback:", HashToHex(Sha256(*note))),
          {EvidenceFile{.name = "trusted.checkpoint", .bytes = ref.note},
           EvidenceFile{.name = "received.checkpoint", .bytes = *note}});
    result.complete = true;
    return Commit();
  }
  if (cp.size == ref.size && cp.root != ref.root) {
    Raise(Severity::kCritical, "log.fork",
          absl::StrCat("the log signed two different roots for size ", cp.size, ": ",
                       HashToBase64(ref.root), " and ", HashToBase64(cp.root)),
          absl::StrCat("fork:", HashToHex(Sha256(*note))),
          {EvidenceFile{.name = "trusted.checkpoint", .bytes = ref.note},
           EvidenceFile{.name = "received.checkpoint", .bytes = *note}});
    result.complete = true;
    Reset();
    return Commit();
  }
  if (cp.size > ref.size) {
    Proof p = ProveConsistency(ref, *note, cp);
    if (p == Proof::kStopped) return !findings.empty() && Commit();
    if (p == Proof::kInconsistent) {
      result.complete = true;
      Reset();
      return Commit();
    }
    if (unwitnessed.empty()) {
      st->target_note = *note;
    } else {
      // Log-signed and consistent, but not trusted: the log may publish
      // without its quorum (--witness-fail-open). Not a lie by itself.
      Raise(Severity::kWarning, "checkpoint.unwitnessed",
            absl::StrCat("the checkpoint of size ", cp.size,
                         " lacks the witness quorum; the monitor keeps the one of size ", ref.size,
                         " until a witnessed checkpoint comes: ", unwitnessed),
            absl::StrCat("unwitnessed:", HashToHex(Sha256(*note))), {});
      result.unwitnessed = true;
    }
  }
  if (st->target_note.empty() && st->trusted_note.empty() && cp.size == 0 && unwitnessed.empty()) {
    Trust(*note);
  }
  if (!st->target_note.empty()) {
    absl::StatusOr<Checkpoint> target = Checkpoint::Parse(ParseNote(st->target_note)->text);
    if (!AuditEntries(*target, st->target_note)) return false;
  }
  result.complete = true;
  result.verified_size = st->next;
  return Commit();
}

TreeAuditor::Round_::Proof TreeAuditor::Round_::ProveConsistency(const Reference& ref,
                                                                 const std::string& note,
                                                                 const Checkpoint& cp) {
  if (ref.size == 0) return Proof::kOk;  // every tree extends the empty one
  absl::StatusOr<ServedProof> proof =
      FetchConsistencyProof(src, ref.size, cp.size, cp.size, hasher);
  if (!proof.ok()) {
    Operational(proof.status());
    return Proof::kStopped;
  }
  absl::Status v = VerifyConsistency(ref.size, cp.size, ref.root, cp.root, proof->proof, hasher);
  if (v.ok()) return Proof::kOk;
  std::vector<EvidenceFile> evidence = {
      EvidenceFile{.name = "trusted.checkpoint", .bytes = ref.note},
      EvidenceFile{.name = "received.checkpoint", .bytes = note}};
  for (EvidenceFile& f : proof->evidence) evidence.push_back(std::move(f));
  Raise(Severity::kCritical, "log.inconsistent",
        absl::StrCat("the checkpoint of size ", cp.size,
                     " is not consistent with the trusted one of size ", ref.size,
                     ": the consistency proof ", proof->how, " fails (", v.message(), ")"),
        absl::StrCat("inconsistent:", HashToHex(Sha256(note))), std::move(evidence));
  return Proof::kInconsistent;
}

TreeAuditor::Round_::Check TreeAuditor::Round_::CheckTile(const TileId& t,
                                                          absl::Span<const Hash> expected,
                                                          const absl::StatusOr<std::string>& body,
                                                          const std::string& note) {
  if (!body.ok()) {
    Operational(body.status());
    return Check::kStopped;
  }
  absl::StatusOr<std::vector<Hash>> row = DecodeHashTile(*body);
  if (!row.ok() || row->size() != t.width) {
    Operational("malformed",
                absl::StrCat(t.Path(), ": ",
                             row.ok() ? absl::StrCat(row->size(), " hashes, expected ", t.width)
                                      : std::string(row.status().message())));
    return Check::kStopped;
  }
  if (std::equal(row->begin(), row->end(), expected.begin(), expected.end())) return Check::kOk;
  size_t at = 0;
  while (at < row->size() && (*row)[at] == expected[at]) ++at;
  Raise(Severity::kCritical, "log.tile_mismatch",
        absl::StrCat(t.Path(),
                     " as served differs from the tile recomputed from the entries, at hash ", at,
                     ": clients building proofs from it are misled"),
        absl::StrCat("tile:", t.Path(), ":", HashToHex(Sha256(*body))),
        {EvidenceFile{.name = "checkpoint", .bytes = note},
         EvidenceFile{.name = TileEvidenceName(t) + ".served", .bytes = *body},
         EvidenceFile{.name = TileEvidenceName(t) + ".recomputed",
                      .bytes = EncodeHashTile(expected)}});
  return Check::kMismatch;
}

bool TreeAuditor::Round_::AuditEntries(const Checkpoint& cp, const std::string& note) {
  const uint64_t size = cp.size;
  const uint64_t first = st->next;
  uint64_t last_commit = st->next;
  // Index of the last node appended to rows[L].
  std::array<uint64_t, kMaxTileLevel + 1> last{};
  auto visit = [&](NodeId id, const Hash& h) {
    if (id.level % kTileHeight != 0) return;
    const uint32_t level = id.level / kTileHeight;
    st->rows[level].push_back(h);
    last[level] = id.index;
  };
  // A source without hash tiles (gRPC): the tree is checked from the
  // entries and the signed root alone.
  const bool tiles = src->ServesHashTiles();
  const size_t step = tiles ? 2 : 1;
  Pipeline::Plan plan;
  plan.src = src;
  plan.size = size;
  plan.first_bundle = st->next / kTileWidth;
  plan.tiles = tiles;
  plan.per_batch = opt.bundles_per_batch;
  plan.budget = opt.batch_budget_bytes;
  std::optional<Pipeline> pipeline(std::in_place, plan);
  // The last batch: it holds the partial tiles checked at the end.
  Batch batch;
  while (st->next < size) {
    batch = pipeline->Take();
    if (batch.req.empty()) {
      // No bundle left to fetch below `size`: cannot happen unless the
      // arithmetic is wrong; stop rather than spin.
      Operational("malformed", absl::StrCat("no bundle to fetch for entry ", st->next));
      return Stop();
    }
    const std::vector<TileId>& req = batch.req;
    const std::vector<absl::StatusOr<std::string>>& bodies = batch.bodies;
    // Full tiles of levels >= 1 completed by this batch, checked after it.
    std::vector<std::pair<TileId, std::vector<Hash>>> upper;
    for (size_t k = 0; k < batch.bundles * step; k += step) {
      const TileId& bt = req[k];
      if (!bodies[k].ok()) {
        Operational(bodies[k].status());
        return Stop();
      }
      const absl::StatusOr<std::vector<absl::string_view>>& entries = batch.entries[k / step];
      const std::vector<Hash>& leaves = batch.leaves[k / step];
      if (!entries.ok() || entries->size() != bt.width) {
        Operational("malformed",
                    absl::StrCat(bt.Path(), ": ",
                                 entries.ok() ? absl::StrCat(entries->size(), " entries, expected ",
                                                             bt.width)
                                              : std::string(entries.status().message())));
        return Stop();
      }
      const uint64_t base = bt.index * kTileWidth;
      const uint64_t skip = st->next - base;
      // Entries audited in an earlier round, served again in this bundle,
      // must be the same bytes.
      for (uint64_t j = 0; j < skip; ++j) {
        if (leaves[j] == st->rows[0][j]) continue;
        Raise(Severity::kCritical, "log.entries_changed",
              absl::StrCat(bt.Path(), " serves entry ", base + j,
                           " with other bytes than when it was audited"),
              absl::StrCat("changed:", base + j, ":", HashToHex(Sha256(*bodies[k]))),
              {EvidenceFile{.name = "checkpoint", .bytes = note},
               EvidenceFile{.name = TileEvidenceName(bt), .bytes = *bodies[k]}});
        return Lied();
      }
      for (uint64_t j = skip; j < bt.width; ++j) {
        if (opt.on_entry) {
          if (absl::Status s = opt.on_entry(base + j, (*entries)[j], leaves[j], &findings);
              !s.ok()) {
            Operational("policy", absl::StrCat("entry ", base + j, ": ", s.message()));
            return Stop();
          }
        }
        st->range.AppendLeaf(leaves[j], hasher, visit);
        ++st->next;
      }
      result.entries += bt.width - skip;
      if (tiles) {
        if (std::optional<bool> end =
                After(CheckTile(req[k + 1], st->rows[0], bodies[k + 1], note)))
          return *end;
      }
      if (st->rows[0].size() == kTileWidth) st->rows[0].clear();
      for (uint32_t level = 1; level <= kMaxTileLevel; ++level) {
        if (st->rows[level].size() != kTileWidth) continue;
        upper.emplace_back(TileId{.level = level, .index = last[level] / kTileWidth},
                           std::move(st->rows[level]));
        st->rows[level].clear();
      }
    }
    for (const auto& [id, hashes] : upper) {
      if (!tiles) break;
      const absl::StatusOr<std::string>* body = batch.Find(id);
      if (body == nullptr) {
        Operational("malformed", absl::StrCat(id.Path(), " was not fetched with its bundles"));
        return Stop();
      }
      if (std::optional<bool> end = After(CheckTile(id, hashes, *body, note))) return *end;
    }
    obs->Progress(st->next - first, size - first);
    if (opt.stop && opt.stop() && st->next < size) {
      Commit();
      return false;
    }
    if (st->next - last_commit >= opt.commit_every && st->next < size) {
      if (!Commit()) return false;
      last_commit = st->next;
    }
  }
  pipeline.reset();  // the source is free again
  // The partial tiles of levels >= 1 (level 0's came with its bundle):
  // fetched with the last bundle, or now if this round had none to fetch.
  for (uint32_t level = 1; tiles && level <= kMaxTileLevel; ++level) {
    if (st->rows[level].empty()) continue;
    const TileId t{.level = level,
                   .index = (size >> (kTileHeight * level)) / kTileWidth,
                   .width = static_cast<uint32_t>(st->rows[level].size())};
    const absl::StatusOr<std::string>* body = batch.Find(t);
    absl::StatusOr<std::string> fetched;
    if (body == nullptr) {
      fetched = std::move(src->Tiles({t})[0]);
      body = &fetched;
    }
    if (std::optional<bool> end = After(CheckTile(t, st->rows[level], *body, note))) return *end;
  }
  absl::StatusOr<Hash> root = st->range.Root(hasher);
  if (!root.ok() || *root != cp.root) {
    Raise(Severity::kCritical, "log.root_mismatch",
          absl::StrCat("the ", size, " entries the log serves hash to root ",
                       root.ok() ? HashToBase64(*root) : std::string(root.status().message()),
                       ", but its checkpoint signs ", HashToBase64(cp.root)),
          absl::StrCat("root:", HashToHex(Sha256(note))),
          {EvidenceFile{.name = "checkpoint", .bytes = note}});
    return Lied();
  }
  Trust(note);
  return true;
}

RoundResult TreeAuditor::Round(AuditState* state, LogSource* source, AuditObserver* observer) {
  Round_ r(options_, hasher_, state, source, observer);
  r.Run();
  r.result.verified_size =
      Checkpoint::Parse(state->trusted_note.empty() ? std::string()
                                                    : ParseNote(state->trusted_note)->text)
          .value_or(Checkpoint{})
          .size;
  return r.result;
}

}  // namespace infratrail
