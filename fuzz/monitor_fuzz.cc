// libFuzzer target for what the monitor reads from a log: a checkpoint
// signed with the log's key (so the auditor gets past the signature) over a
// fuzzed size and root, and fuzzed bytes for every hash tile and entry
// bundle it asks for, after a first round that trusted an honest small tree.
// The auditor must never crash, never trust a checkpoint whose entries do
// not rebuild its root, and keep its state's invariants.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/checkpoint.h"
#include "core/compact_range.h"
#include "core/note.h"
#include "fuzz/fuzz_require.h"
#include "verifier/monitor/tree_auditor.h"

namespace infratrail {
namespace {

constexpr char kOrigin[] = "fuzz.example/log";

const NoteSigner& Signer() {
  static const NoteSigner s = *NoteSigner::FromSeed(kOrigin, std::string(32, 'm'));
  return s;
}

std::string Sign(uint64_t size, const Hash& root) {
  Checkpoint cp;
  cp.origin = kOrigin;
  cp.size = size;
  cp.root = root;
  return *SignNote(cp.Body(), {Signer()});
}

// Serves `checkpoint`, then the fuzz chunks in turn for any tile asked.
class FuzzSource final : public LogSource {
 public:
  FuzzSource(std::string checkpoint, std::vector<std::string> chunks)
      : checkpoint_(std::move(checkpoint)), chunks_(std::move(chunks)) {}
  absl::StatusOr<std::string> Checkpoint(bool) override { return checkpoint_; }
  std::vector<absl::StatusOr<std::string>> Tiles(absl::Span<const TileId> tiles) override {
    std::vector<absl::StatusOr<std::string>> out;
    for (size_t i = 0; i < tiles.size(); ++i) {
      if (chunks_.empty() || served_ >= 4096) {
        out.push_back(absl::UnavailableError("fuzz: no more"));
        continue;
      }
      out.push_back(chunks_[served_++ % chunks_.size()]);
    }
    return out;
  }
  std::string Describe() const override { return "fuzz"; }

 private:
  std::string checkpoint_;
  std::vector<std::string> chunks_;
  size_t served_ = 0;
};

class Sink final : public AuditObserver {
 public:
  absl::Status Commit(const AuditState& s, std::vector<Finding>) override {
    Require(s.trusted_next <= s.next, "trusted position beyond the audit position");
    Require(s.range.end() == s.next, "range does not end at next");
    return absl::OkStatus();
  }
};

}  // namespace
}  // namespace infratrail

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace infratrail;  // NOLINT(google-build-using-namespace): fuzz entry point
  if (size < 2 + 32) return 0;
  // Size of the lying checkpoint (up to 2^16 - 1 over the honest 300), its root.
  const uint64_t claimed = 300 + ((uint64_t{data[0]} << 8) | data[1]);
  Hash root;
  std::copy(data + 2, data + 34, root.begin());
  std::vector<std::string> chunks;
  std::string cur;
  for (size_t i = 34; i < size; ++i) {
    if (data[i] == 0xFF && i + 1 < size && data[i + 1] == 0xFE) {
      chunks.push_back(cur);
      cur.clear();
      ++i;
      continue;
    }
    cur += static_cast<char>(data[i]);
  }
  chunks.push_back(cur);

  // An honest tree of 300 entries, trusted first.
  static const AuditState trusted = [] {
    std::vector<std::string> entries;
    CompactRange r;
    Hasher h;
    for (int i = 0; i < 300; ++i) {
      entries.push_back(absl::StrCat("entry ", i));
      r.AppendLeaf(h.HashLeaf(entries.back()), h);
    }
    AuditState s;
    s.trusted_note = Sign(300, *r.Root(h));
    s.next = s.trusted_next = 300;
    s.range = s.trusted_range = r;
    // Rows: 44 leaf hashes of the partial level-0 tile; one level-8 node.
    for (int i = 256; i < 300; ++i) s.rows[0].push_back(h.HashLeaf(entries[i]));
    s.rows[1].push_back(r.hashes()[0]);
    s.trusted_rows = s.rows;
    return s;
  }();
  AuditState state = trusted;
  AuditorOptions o;
  o.log_key = *NoteVerifier::Parse(Signer().VerifierKey());
  o.bundles_per_batch = 4;
  o.commit_every = 256;
  TreeAuditor auditor(o);
  FuzzSource src(Sign(claimed, root), std::move(chunks));
  Sink sink;
  RoundResult r = auditor.Round(&state, &src, &sink);
  // Only a tree whose entries rebuild the signed root is trusted.
  if (!state.trusted_note.empty() && state.trusted_note != trusted.trusted_note) {
    Require(r.complete && state.trusted_next == claimed, "trusted a size not audited");
    Hasher h;
    Require(*state.trusted_range.Root(h) == root, "trusted a root not rebuilt");
  }
  return 0;
}
