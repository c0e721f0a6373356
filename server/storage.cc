#include "server/storage.h"

#include "absl/strings/str_cat.h"
#include "core/node_id.h"

namespace infratrail {

void PutBigEndian64(uint64_t v, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

uint64_t GetBigEndian64(absl::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

absl::Status CheckStoredTile(const TileId& tile) {
  if (tile.entries) {
    return absl::InvalidArgumentError(absl::StrCat(
        "read tile: ", tile.Path(), " is an entry bundle; storage holds hash tiles only"));
  }
  return absl::OkStatus();
}

std::string EncodeTreeState(const TreeState& state) {
  std::string out;
  out.reserve(8 + state.right_edge.size() * kHashSize);
  PutBigEndian64(state.size, &out);
  for (const Hash& h : state.right_edge)
    out.append(reinterpret_cast<const char*>(h.data()), h.size());
  return out;
}

absl::StatusOr<TreeState> DecodeTreeState(absl::string_view data) {
  if (data.size() < 8 || (data.size() - 8) % kHashSize != 0) {
    return absl::DataLossError(absl::StrCat("tree state: bad length ", data.size()));
  }
  TreeState state;
  state.size = GetBigEndian64(data);
  const size_t n = (data.size() - 8) / kHashSize;
  if (n != DecomposeRange(0, state.size).size()) {
    return absl::DataLossError(absl::StrCat("tree state: ", n, " hashes for size ", state.size));
  }
  for (size_t i = 0; i < n; ++i) {
    absl::StatusOr<Hash> h = HashFromBytes(data.substr(8 + i * kHashSize, kHashSize), "tree state");
    if (!h.ok()) return h.status();
    state.right_edge.push_back(*h);
  }
  return state;
}

}  // namespace infratrail
