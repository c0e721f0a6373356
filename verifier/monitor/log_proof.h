// A consistency proof between two tree sizes, read from a log: built from
// its hash tiles when it serves them, else as its API serves it (gRPC
// GetConsistencyProof). Nothing is verified here: the caller checks the
// proof against the two roots it holds, and keeps the evidence if it fails.
// The tree auditor (the log's own checkpoints) and gossip (a peer's) share it.
#ifndef INFRATRAIL_VERIFIER_MONITOR_LOG_PROOF_H_
#define INFRATRAIL_VERIFIER_MONITOR_LOG_PROOF_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/hash.h"
#include "core/tile.h"
#include "verifier/monitor/finding.h"
#include "verifier/monitor/log_source.h"

namespace infratrail {

struct ServedProof {
  std::vector<Hash> proof;
  // What the proof was made from, as files for an evidence directory: the
  // hash tiles as served, or "consistency.proof" (base64 hashes, one a line).
  std::vector<EvidenceFile> evidence;
  // "built from the log's own hash tiles" or "served by the log".
  std::string how;
};

// "tile_1_000.p_7": a tile's path as a plain file name.
std::string TileEvidenceName(const TileId& t);

// The proof from `from` to `to` (0 < from <= to). A log serves the partial
// tiles of its latest size only: a hash tile is read at the width it has
// at max(to, served), `served` being the size of the log's latest
// checkpoint (0: not known), and cut to its width at `to`; a partial tile
// the log no longer serves (404) is read from its full tile instead.
// Errors are operational: the source's (NotFound: the log does not serve
// that size, or not yet), or DataLoss naming the tile for a tile of the
// wrong length.
absl::StatusOr<ServedProof> FetchConsistencyProof(LogSource* src, uint64_t from, uint64_t to,
                                                  uint64_t served, Hasher& hasher);

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_LOG_PROOF_H_
