// Gossip: the monitor compares its trusted view of a log with what its peers
// saw the log sign: witnesses (`GET <url>/<hex sha256(origin)>/checkpoint`,
// the latest checkpoint they cosigned) and other monitors (the same path on
// their --http-addr). Two checkpoints the log signed that cannot both be
// true (different roots at one size, or no valid consistency proof between
// them) are a split view: the log shows different histories to different
// readers. Anything short of such a verified contradiction (a peer down,
// slow, serving junk, the log not yet serving a size a peer saw) is
// operational, never a finding (docs/monitor.md, "Gossip").
//
// Thread-compatible: the monitor's main thread owns each Gossip.
#ifndef INFRATRAIL_VERIFIER_MONITOR_GOSSIP_H_
#define INFRATRAIL_VERIFIER_MONITOR_GOSSIP_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/hash.h"
#include "core/http/http_fetcher.h"
#include "core/note_key.h"
#include "verifier/monitor/finding.h"
#include "verifier/monitor/log_source.h"

namespace infratrail {

// Peers per log, at most; and the largest peer answer read.
inline constexpr size_t kMaxGossipPeers = 64;
inline constexpr size_t kMaxGossipBodyBytes = 64 << 10;

struct GossipPeer {
  std::string url;    // base URL, no trailing slash
  std::string label;  // names the peer in metrics: bounded, [A-Za-z0-9._:-]
  // A witness of the --witness-policy: what it serves must carry its
  // cosignature (this key). Unset for a plain URL peer (another monitor,
  // whose note carries whatever cosignatures the log had).
  std::optional<NoteVerifier> witness;
};

// A metric label for `text` (a witness name, a URL): the characters
// [A-Za-z0-9._:-] kept, others '_', at most 64.
std::string GossipLabel(absl::string_view text);

enum class GossipOutcome {
  kConsistent,  // proven consistent with the monitor's view
  kNothingYet,  // the peer knows nothing of the log yet (404)
  kPending,     // log-signed, larger, and the log does not serve its size yet
  kError,       // operational: unreachable, junk, a proof that could not be read
  kSplitView,   // a verified contradiction
};

struct GossipCheck {
  GossipOutcome outcome = GossipOutcome::kError;
  // For metrics: "consistent", "nothing_yet", "pending", "split_view", or
  // for kError "unreachable", "timeout", "http_status", "too_large",
  // "malformed", "bad_signature" (the log's signature does not verify:
  // the peer served garbage), "no_cosignature" (a policy witness's note
  // without its cosignature).
  std::string kind;
  std::string message;     // why (kError, kPending), or the finding's text (kSplitView)
  uint64_t peer_size = 0;  // of a note whose log signature verified
  // The note verified but could not be decided this time (its proof could
  // not be read): checked again next round.
  bool retry = false;
  // kSplitView: both notes (and the proof), and what identifies this
  // contradiction (so it is reported once).
  std::vector<EvidenceFile> evidence;
  std::string key;
};

// What a peer's note is compared with.
struct GossipView {
  std::string trusted_note;     // the monitor's trusted checkpoint; empty: none yet
  uint64_t log_size = 0;        // of the log's latest checkpoint (0: not known)
  LogSource* source = nullptr;  // the log, for consistency proofs
};

// Decides `note`, served by `peer`, against `view` (nothing trusted yet is
// the empty tree). When the sizes differ, the consistency proof comes from
// the log: from the smaller size to the larger (log_proof.h).
GossipCheck CheckPeerNote(const GossipPeer& peer, absl::string_view note,
                          const NoteVerifier& log_key, const GossipView& view, Hasher& hasher);

class Gossip {
 public:
  // `peers` at most kMaxGossipPeers.
  Gossip(std::vector<GossipPeer> peers, std::unique_ptr<HttpFetcher> fetcher, NoteVerifier log_key);

  struct PeerResult {
    size_t peer = 0;  // index into peers()
    GossipCheck check;
  };
  // Each peer's note held over from an earlier round (at most one per
  // peer: the latest that could not be decided) is checked again, then
  // each peer's latest is fetched (all at once) and checked. One result per
  // check.
  std::vector<PeerResult> Round(const GossipView& view);

  const std::vector<GossipPeer>& peers() const { return peers_; }

 private:
  std::vector<GossipPeer> peers_;
  std::unique_ptr<HttpFetcher> fetcher_;
  NoteVerifier log_key_;
  std::vector<std::string> pending_;  // per peer; empty: none
  Hasher hasher_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_GOSSIP_H_
