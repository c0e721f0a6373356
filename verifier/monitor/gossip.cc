#include "verifier/monitor/gossip.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/checkpoint.h"
#include "core/proof.h"
#include "core/witness_policy.h"
#include "verifier/monitor/log_proof.h"
#include "verifier/monitor/tree_auditor.h"

namespace infratrail {
namespace {

GossipCheck Error(std::string kind, std::string message) {
  GossipCheck c;
  c.outcome = GossipOutcome::kError;
  c.kind = std::move(kind);
  c.message = std::move(message);
  return c;
}

GossipCheck Consistent(uint64_t size) {
  GossipCheck c;
  c.outcome = GossipOutcome::kConsistent;
  c.kind = "consistent";
  c.peer_size = size;
  return c;
}

// A view: a checkpoint and the note it came in.
struct View {
  std::string note;
  uint64_t size = 0;
  Hash root = Hasher::EmptyRoot();
};

GossipCheck SplitView(const GossipPeer& peer, const View& mine, const View& theirs,
                      const std::string& why, std::vector<EvidenceFile> proof) {
  GossipCheck c;
  c.outcome = GossipOutcome::kSplitView;
  c.kind = "split_view";
  c.peer_size = theirs.size;
  c.message =
      absl::StrCat("split view: ", peer.url, " serves a checkpoint the log signed for size ",
                   theirs.size, " (root ", HashToBase64(theirs.root),
                   ") that cannot be consistent with the monitor's of size ", mine.size, " (root ",
                   HashToBase64(mine.root), "): ", why);
  c.evidence = {EvidenceFile{.name = "monitor.checkpoint", .bytes = mine.note},
                EvidenceFile{.name = "peer.checkpoint", .bytes = theirs.note},
                EvidenceFile{.name = "peer.url", .bytes = absl::StrCat(peer.url, "\n")}};
  for (EvidenceFile& f : proof) c.evidence.push_back(std::move(f));
  c.key = absl::StrCat("split_view:", HashToHex(Sha256(theirs.note)));
  return c;
}

}  // namespace

std::string GossipLabel(absl::string_view text) {
  std::string out;
  for (char c : text.substr(0, 64)) {
    out += (absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':') ? c : '_';
  }
  return out;
}

GossipCheck CheckPeerNote(const GossipPeer& peer, absl::string_view note,
                          const NoteVerifier& log_key, const GossipView& view, Hasher& hasher) {
  const std::string& trusted_note = view.trusted_note;
  absl::StatusOr<VerifiedCheckpoint> own = OpenCheckpoint(note, log_key, WitnessPolicy{});
  if (!own.ok()) {
    return Error(
        own.status().code() == absl::StatusCode::kUnauthenticated ? "bad_signature" : "malformed",
        absl::StrCat("the peer served no checkpoint the log signed: ", own.status().message()));
  }
  if (peer.witness.has_value()) {
    absl::StatusOr<WitnessPolicy> one = WitnessPolicy::Create({*peer.witness}, 1);
    absl::Status cosigned = one.ok() ? OpenCheckpoint(note, log_key, *one).status() : one.status();
    if (!cosigned.ok()) {
      return Error("no_cosignature", absl::StrCat("the checkpoint lacks the cosignature of "
                                                  "witness ",
                                                  peer.witness->name(), ": ", cosigned.message()));
    }
  }
  const View theirs{
      .note = std::string(note), .size = own->checkpoint.size, .root = own->checkpoint.root};
  View mine;
  if (!trusted_note.empty()) {
    // The monitor's own state: parsed when it was trusted.
    absl::StatusOr<Checkpoint> cp = Checkpoint::Parse(ParseNote(trusted_note)->text);
    mine = View{.note = trusted_note, .size = cp->size, .root = cp->root};
  }
  if (theirs.size == mine.size) {
    if (theirs.root == mine.root) return Consistent(theirs.size);
    return SplitView(peer, mine, theirs, "two roots for one size", {});
  }
  // Every tree extends the empty one (and OpenCheckpoint holds a size-0
  // checkpoint to the empty tree's root).
  if (theirs.size == 0 || mine.size == 0) return Consistent(theirs.size);
  const View& small = theirs.size < mine.size ? theirs : mine;
  const View& large = theirs.size < mine.size ? mine : theirs;
  absl::StatusOr<ServedProof> proof =
      FetchConsistencyProof(view.source, small.size, large.size, view.log_size, hasher);
  if (!proof.ok()) {
    GossipCheck c;
    if (absl::IsNotFound(proof.status()) && theirs.size > mine.size) {
      // The peer may have seen a checkpoint the log's mirror or our last
      // read of it has not caught up with yet.
      c.outcome = GossipOutcome::kPending;
      c.kind = "pending";
    } else {
      c.outcome = GossipOutcome::kError;
      c.kind = OperationalKind(proof.status());
    }
    c.message = absl::StrCat("consistency proof ", small.size, " -> ", large.size,
                             " from the log: ", proof.status().message());
    c.peer_size = theirs.size;
    c.retry = true;
    return c;
  }
  absl::Status v =
      VerifyConsistency(small.size, large.size, small.root, large.root, proof->proof, hasher);
  if (v.ok()) return Consistent(theirs.size);
  return SplitView(peer, mine, theirs,
                   absl::StrCat("the consistency proof ", small.size, " -> ", large.size, " ",
                                proof->how, " fails (", v.message(), ")"),
                   std::move(proof->evidence));
}

Gossip::Gossip(std::vector<GossipPeer> peers, std::unique_ptr<HttpFetcher> fetcher,
               NoteVerifier log_key)
    : peers_(std::move(peers)),
      fetcher_(std::move(fetcher)),
      log_key_(std::move(log_key)),
      pending_(peers_.size()) {}

std::vector<Gossip::PeerResult> Gossip::Round(const GossipView& view) {
  std::vector<PeerResult> out;
  for (size_t i = 0; i < peers_.size(); ++i) {
    if (pending_[i].empty()) continue;
    GossipCheck c = CheckPeerNote(peers_[i], pending_[i], log_key_, view, hasher_);
    if (!c.retry) pending_[i].clear();
    out.push_back(PeerResult{.peer = i, .check = std::move(c)});
  }
  const std::string path = absl::StrCat("/", HashToHex(Sha256(log_key_.name())), "/checkpoint");
  std::vector<HttpGet> gets;
  gets.reserve(peers_.size());
  for (const GossipPeer& p : peers_) {
    gets.push_back(HttpGet{.url = p.url + path, .max_body_bytes = kMaxGossipBodyBytes});
  }
  std::vector<absl::StatusOr<HttpResponse>> got = fetcher_->GetMany(gets);
  for (size_t i = 0; i < peers_.size(); ++i) {
    GossipCheck c;
    if (!got[i].ok()) {
      c = Error(OperationalKind(got[i].status()), std::string(got[i].status().message()));
    } else if (got[i]->status == 404) {
      c.outcome = GossipOutcome::kNothingYet;
      c.kind = "nothing_yet";
    } else if (got[i]->status != 200) {
      c = Error("http_status", absl::StrCat(gets[i].url, ": HTTP ", got[i]->status));
    } else {
      c = CheckPeerNote(peers_[i], got[i]->body, log_key_, view, hasher_);
      if (c.retry) pending_[i] = std::move(got[i]->body);
    }
    out.push_back(PeerResult{.peer = i, .check = std::move(c)});
  }
  return out;
}

}  // namespace infratrail
