#include "verifier/monitor/log_proof.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/node_id.h"
#include "core/proof.h"
#include "core/tile.h"

namespace infratrail {
namespace {

absl::StatusOr<ServedProof> FromApi(LogSource* src, uint64_t from, uint64_t to) {
  absl::StatusOr<std::vector<Hash>> proof = src->ConsistencyProof(from, to);
  if (!proof.ok()) return proof.status();
  std::string served;
  for (const Hash& h : *proof) absl::StrAppend(&served, HashToBase64(h), "\n");
  return ServedProof{
      .proof = *std::move(proof),
      .evidence = {EvidenceFile{.name = "consistency.proof", .bytes = std::move(served)}},
      .how = "served by the log"};
}

// The first `width` hashes of tile `t` (as read, at t.width), or of its
// full form if the log no longer serves that partial one.
absl::StatusOr<std::vector<Hash>> ReadRow(LogSource* src, const TileId& t, uint32_t width,
                                          absl::StatusOr<std::string> body,
                                          std::vector<EvidenceFile>* evidence) {
  TileId read = t;
  if (absl::IsNotFound(body.status()) && t.width < kTileWidth) {
    read.width = kTileWidth;
    body = std::move(src->Tiles({read})[0]);
  }
  if (!body.ok()) return body.status();
  absl::StatusOr<std::vector<Hash>> row = DecodeHashTile(*body);
  if (!row.ok() || row->size() != read.width) {
    return absl::DataLossError(
        absl::StrCat(read.Path(), ": ",
                     row.ok() ? absl::StrCat(row->size(), " hashes, expected ", read.width)
                              : std::string(row.status().message())));
  }
  evidence->push_back(EvidenceFile{.name = TileEvidenceName(read), .bytes = *std::move(body)});
  row->resize(width);
  return row;
}

}  // namespace

std::string TileEvidenceName(const TileId& t) {
  return absl::StrReplaceAll(t.Path(), {{"/", "_"}});
}

absl::StatusOr<ServedProof> FetchConsistencyProof(LogSource* src, uint64_t from, uint64_t to,
                                                  uint64_t served, Hasher& hasher) {
  if (!src->ServesHashTiles()) return FromApi(src, from, to);
  absl::StatusOr<ProofPlan> plan = PlanConsistency(from, to);
  if (!plan.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("consistency plan: ", plan.status().message()));
  }
  // Each node from the tile that holds it, read at the width it has at
  // `read_at`; the nodes of the tree of size `to` are its first hashes.
  const uint64_t read_at = std::max(to, served);
  std::vector<TileId> tiles;
  std::vector<NodeInTile> where;
  for (const NodeId& n : plan->nodes) {
    NodeInTile w = LocateNode(n);
    w.tile.width = TileWidthAt(w.tile.level, w.tile.index, read_at);
    where.push_back(w);
    if (std::find(tiles.begin(), tiles.end(), w.tile) == tiles.end()) tiles.push_back(w.tile);
  }
  std::vector<absl::StatusOr<std::string>> bodies = src->Tiles(tiles);
  std::vector<std::vector<Hash>> rows(tiles.size());
  ServedProof out;
  out.how = "built from the log's own hash tiles";
  for (size_t i = 0; i < tiles.size(); ++i) {
    absl::StatusOr<std::vector<Hash>> row =
        ReadRow(src, tiles[i], TileWidthAt(tiles[i].level, tiles[i].index, to),
                std::move(bodies[i]), &out.evidence);
    if (!row.ok()) return row.status();
    rows[i] = *std::move(row);
  }
  std::vector<Hash> fetched;
  for (size_t k = 0; k < plan->nodes.size(); ++k) {
    const NodeInTile& w = where[k];
    const size_t t = std::find(tiles.begin(), tiles.end(), w.tile) - tiles.begin();
    const uint32_t sub = plan->nodes[k].level - w.tile.level * kTileHeight;
    fetched.push_back(HashWithinTile(rows[t], sub, w.first >> sub, hasher));
  }
  absl::StatusOr<std::vector<Hash>> proof = plan->Rehash(fetched, hasher);
  if (!proof.ok()) return proof.status();
  out.proof = *std::move(proof);
  return out;
}

}  // namespace infratrail
