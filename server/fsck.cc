#include "server/fsck.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/checkpoint.h"
#include "core/compact_range.h"
#include "core/note.h"
#include "core/tile.h"
#include "core/witness_policy.h"

namespace infratrail {
namespace {

constexpr uint64_t kChunk = 65536;
constexpr size_t kMaxProblems = 20;

// Rebuilds every tile from the entries with its own few lines rather than the
// sequencer's edge-tile code (Sequencer::AddToEdgeTile), deliberately: fsck
// audits what the sequencer wrote, so it must not share a bug with it. Both
// sit on core's CompactRange visitor, which has its own tests against RFC
// 9162's recursive definition.
class Checker {
 public:
  Checker(LogStorage& storage, FsckReport& report) : storage_(storage), report_(report) {}

  void Problem(std::string p) {
    if (report_.problems.size() < kMaxProblems) report_.problems.push_back(std::move(p));
  }

  // A completed node from the recomputation; tiles are compared as they fill.
  void Visit(NodeId id, const Hash& h) {
    if (id.level % kTileHeight != 0) return;
    const uint32_t level = id.level / kTileHeight;
    if (rows_.size() <= level) rows_.resize(level + 1);
    rows_[level].push_back(h);
    if (rows_[level].size() == kTileWidth) {
      Compare(TileId{level, id.index / kTileWidth}, rows_[level]);
      rows_[level].clear();
    }
  }

  void CompareEdges(uint64_t size) {
    for (uint32_t level = 0; level < rows_.size(); ++level) {
      if (rows_[level].empty()) continue;
      const uint64_t nodes = size >> (kTileHeight * level);
      Compare(TileId{level, nodes / kTileWidth}, rows_[level]);
    }
  }

  absl::Status io;  // first I/O error

 private:
  void Compare(const TileId& tile, const std::vector<Hash>& want) {
    ++report_.tiles_checked;
    absl::StatusOr<std::string> got = storage_.ReadTile(tile);
    if (!got.ok()) {
      Problem(absl::StrCat("tile ", tile.level, "/", tile.index, ": ", got.status().message()));
      return;
    }
    if (*got != EncodeHashTile(want)) {
      Problem(absl::StrCat("tile ", tile.level, "/", tile.index, ": stored ",
                           got->size() / kHashSize, " hashes differ from the ", want.size(),
                           " recomputed from the entries"));
    }
  }

  LogStorage& storage_;
  FsckReport& report_;
  std::vector<std::vector<Hash>> rows_;
};

}  // namespace

absl::StatusOr<FsckReport> Fsck(LogStorage& storage, const std::optional<NoteVerifier>& log_key) {
  FsckReport report;
  absl::StatusOr<TreeState> state = storage.ReadTreeState();
  if (!state.ok()) return state.status();
  std::optional<Checkpoint> cp;
  absl::StatusOr<std::optional<std::string>> note = storage.GetMeta(kMetaCheckpoint);
  if (!note.ok()) return note.status();
  Checker checker(storage, report);
  if (note->has_value()) {
    absl::StatusOr<Checkpoint> parsed = absl::InvalidArgumentError("unchecked");
    if (log_key.has_value()) {
      absl::StatusOr<VerifiedCheckpoint> v = OpenCheckpoint(**note, *log_key, WitnessPolicy{});
      parsed = v.ok() ? absl::StatusOr<Checkpoint>(v->checkpoint)
                      : absl::StatusOr<Checkpoint>(v.status());
    } else {
      absl::StatusOr<Note> n = ParseNote(**note);
      parsed = n.ok() ? Checkpoint::Parse(n->text) : absl::StatusOr<Checkpoint>(n.status());
    }
    if (parsed.ok()) {
      cp = *parsed;
      report.checkpoint_size = cp->size;
    } else {
      checker.Problem(absl::StrCat("stored checkpoint: ", parsed.status().message()));
    }
  }

  Hasher hasher;
  CompactRange range;
  const CompactRange::Visitor visit = [&](NodeId id, const Hash& h) { checker.Visit(id, h); };
  std::optional<Hash> root_at_checkpoint;
  if (cp.has_value() && cp->size == 0) root_at_checkpoint = Hasher::EmptyRoot();
  for (uint64_t begin = 0; begin < state->size; begin += kChunk) {
    const uint64_t end = std::min(state->size, begin + kChunk);
    std::vector<std::string> entries;
    if (absl::Status st = storage.ReadEntries(begin, end, &entries); !st.ok()) {
      checker.Problem(absl::StrCat("entries [", begin, ", ", end, "): ", st.message()));
      return report;
    }
    std::vector<Hash> leaves;
    leaves.reserve(entries.size());
    for (const std::string& e : entries) leaves.push_back(hasher.HashLeaf(e));
    std::vector<std::optional<uint64_t>> found;
    if (absl::Status st = storage.LookupLeaves(leaves, &found); !st.ok()) return st;
    for (size_t i = 0; i < leaves.size(); ++i) {
      const uint64_t index = begin + i;
      if (found[i] != index) {
        checker.Problem(absl::StrCat("entry ", index, ": leaf index row says ",
                                     found[i].has_value() ? absl::StrCat(*found[i]) : "missing"));
      }
      range.AppendLeaf(leaves[i], hasher, visit);
      if (cp.has_value() && range.end() == cp->size) {
        absl::StatusOr<Hash> root = range.Root(hasher);
        if (root.ok()) root_at_checkpoint = *root;
      }
    }
    report.entries = end;
  }
  checker.CompareEdges(state->size);
  if (range.hashes() != state->right_edge) {
    checker.Problem("stored tree state differs from the compact range recomputed from the entries");
  }
  if (cp.has_value()) {
    if (cp->size > state->size) {
      checker.Problem(
          absl::StrCat("stored checkpoint size ", cp->size, " > tree size ", state->size));
    } else if (root_at_checkpoint != cp->root) {
      checker.Problem(absl::StrCat("stored checkpoint root at size ", cp->size,
                                   " differs from the root recomputed from the entries"));
    }
  }
  return report;
}

}  // namespace infratrail
