#include "server/fsck.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/tile.h"
#include "gtest/gtest.h"
#include "server/memory_storage.h"
#include "server/sequencer.h"

namespace infratrail {
namespace {

// Appends `n` entries through a real sequencer.
void Fill(MemoryStorage& storage, int n) {
  prometheus::Registry reg;
  Metrics metrics(reg);
  auto seq = Sequencer::Start(&storage, SequencerOptions{}, &metrics, nullptr);
  ASSERT_TRUE(seq.ok()) << seq.status();
  for (int i = 0; i < n; i += 100) {
    std::vector<PendingEntry> batch;
    for (int j = i; j < std::min(n, i + 100); ++j) {
      std::string data = absl::StrCat("entry ", j);
      batch.push_back({data, HashLeaf(data)});
    }
    absl::Notification done;
    ASSERT_TRUE((*seq)
                    ->Add(std::move(batch),
                          [&](const absl::Status& s, const std::vector<SequenceResult>&) {
                            EXPECT_TRUE(s.ok()) << s;
                            done.Notify();
                          })
                    .ok());
    done.WaitForNotification();
  }
}

TEST(Fsck, ConsistentStoreHasNoProblems) {
  MemoryStorage storage;
  Fill(storage, 70000);
  absl::StatusOr<FsckReport> r = Fsck(storage, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok()) << r->problems[0];
  EXPECT_EQ(r->entries, 70000u);
  // Every tile of the tree, full and partial, is compared.
  EXPECT_EQ(r->tiles_checked, TilesForTree(70000, /*entries=*/false).size());
}

TEST(Fsck, DetectsACorruptTile) {
  MemoryStorage storage;
  Fill(storage, 1000);
  absl::StatusOr<TreeState> state = storage.ReadTreeState();
  ASSERT_TRUE(state.ok());
  // Rewrite tile 0/1 with one hash flipped, keeping everything else.
  absl::StatusOr<std::string> tile = storage.ReadTile(TileId{0, 1});
  ASSERT_TRUE(tile.ok());
  std::string bad = *tile;
  bad[40] ^= 1;
  CommitBatch cb;
  cb.first_index = state->size;
  cb.tiles.emplace_back(TileId{0, 1}, bad);
  cb.state = *state;
  ASSERT_TRUE(storage.Commit(cb).ok());
  absl::StatusOr<FsckReport> r = Fsck(storage, std::nullopt);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->ok());
  EXPECT_NE(r->problems[0].find("tile 0/1"), std::string::npos) << r->problems[0];
}

TEST(Fsck, DetectsAWrongTreeState) {
  MemoryStorage storage;
  Fill(storage, 300);
  absl::StatusOr<TreeState> state = storage.ReadTreeState();
  ASSERT_TRUE(state.ok());
  CommitBatch cb;
  cb.first_index = state->size;
  cb.state = *state;
  cb.state.right_edge.back()[0] ^= 1;
  ASSERT_TRUE(storage.Commit(cb).ok());
  absl::StatusOr<FsckReport> r = Fsck(storage, std::nullopt);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->ok());
  EXPECT_NE(r->problems[0].find("tree state"), std::string::npos) << r->problems[0];
}

}  // namespace
}  // namespace infratrail
