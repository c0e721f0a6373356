#include "server/export.h"

#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/checkpoint.h"
#include "core/io/file_util.h"
#include "core/note.h"
#include "core/note_key.h"
#include "core/tile.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/memory_storage.h"
#include "server/metrics.h"
#include "server/testing_util.h"

namespace infratrail {
namespace {

using testutil::AppendEntries;
using testutil::EntryData;
using testutil::ScopedTempDir;

std::string Slurp(const std::string& path) { return ReadFileToString(path).value_or(""); }

// Every regular file under `dir`, as paths relative to it.
std::set<std::string> FilesUnder(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) {
    if (f.is_regular_file()) out.insert(f.path().string().substr(dir.size() + 1));
  }
  return out;
}

class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signer_ = *NoteSigner::FromSeed("export.example/log", std::string(32, 'e'));
    verifier_ = *NoteVerifier::Parse(signer_.VerifierKey());
    auto seq = Sequencer::Start(&storage_, SequencerOptions{}, &metrics_, nullptr);
    ASSERT_TRUE(seq.ok()) << seq.status();
    seq_ = std::move(*seq);
  }

  // Appends up to `size` entries and publishes a checkpoint of `size` (as
  // the publisher does: the signed note in meta).
  void GrowAndPublish(uint64_t size) {
    AppendEntries(*seq_, ref_.size(), size - ref_.size(), 1000, &ref_);
    Publish(size);
  }
  void Publish(uint64_t size) {
    Checkpoint cp{"export.example/log", size, ref_.Root(size), {}};
    absl::StatusOr<std::string> note = SignNote(cp.Body(), {signer_});
    ASSERT_TRUE(note.ok());
    ASSERT_TRUE(storage_.PutMeta(kMetaCheckpoint, *note).ok());
  }

  // Reads `dir` as an independent tlog-tiles client would and checks it:
  // the checkpoint verifies; exactly the tiles and bundles of its size are
  // there, with exact widths; every bundle holds the log's entries; every
  // hash in every tile is the RFC 9162 hash of the subtree it stands for.
  void ExpectAuthenticExport(const std::string& dir, uint64_t want_size) {
    absl::StatusOr<Note> note = OpenNote(Slurp(dir + "/checkpoint"), {verifier_});
    ASSERT_TRUE(note.ok()) << note.status();
    absl::StatusOr<Checkpoint> cp = Checkpoint::Parse(note->text);
    ASSERT_TRUE(cp.ok()) << cp.status();
    ASSERT_EQ(cp->size, want_size);
    ASSERT_EQ(cp->root, ref_.Root(cp->size));
    std::set<std::string> expected = {"checkpoint"};
    for (const TileId& tile : TilesForTree(cp->size, /*entries=*/true)) {
      expected.insert(tile.Path());
      const std::string bytes = Slurp(absl::StrCat(dir, "/", tile.Path()));
      if (tile.entries) {
        absl::StatusOr<std::vector<std::string>> entries = DecodeEntryBundle(bytes);
        ASSERT_TRUE(entries.ok()) << tile.Path() << ": " << entries.status();
        ASSERT_EQ(entries->size(), tile.width) << tile.Path();
        for (uint32_t i = 0; i < tile.width; ++i) {
          ASSERT_EQ((*entries)[i], EntryData(tile.index * kTileWidth + i)) << tile.Path();
        }
        continue;
      }
      absl::StatusOr<std::vector<Hash>> hashes = DecodeHashTile(bytes);
      ASSERT_TRUE(hashes.ok()) << tile.Path() << ": " << hashes.status();
      ASSERT_EQ(hashes->size(), tile.width) << tile.Path();
      const uint64_t span = uint64_t{1} << (kTileHeight * tile.level);
      for (uint32_t i = 0; i < tile.width; ++i) {
        const uint64_t first = (tile.index * kTileWidth + i) * span;
        ASSERT_EQ((*hashes)[i], ref_.SubtreeRoot(first, first + span))
            << tile.Path() << " hash " << i;
      }
    }
    // Nothing else, except partial tiles of sizes exported before.
    const std::set<std::string> files = FilesUnder(dir);
    for (const std::string& f : files) {
      if (expected.count(f) == 0) {
        EXPECT_NE(f.find(".p/"), std::string::npos) << "unexpected file " << f;
        EXPECT_TRUE(earlier_partials_.count(f)) << "unexpected file " << f;
      }
    }
    for (const std::string& f : expected) EXPECT_TRUE(files.count(f)) << f;
  }

  void RememberPartials(const std::string& dir) {
    for (const std::string& f : FilesUnder(dir)) {
      if (f.find(".p/") != std::string::npos) earlier_partials_.insert(f);
    }
  }

  prometheus::Registry registry_;
  Metrics metrics_{registry_};
  MemoryStorage storage_;
  std::unique_ptr<Sequencer> seq_;
  MerkleReference ref_;
  NoteSigner signer_ = *NoteSigner::FromSeed("x", std::string(32, 'x'));
  NoteVerifier verifier_ = *NoteVerifier::Parse(signer_.VerifierKey());
  std::set<std::string> earlier_partials_;
  ScopedTempDir tmp_;
};

TEST_F(ExportTest, EveryTileAndBundleAuthenticatesAtTheEdgeSizes) {
  std::mt19937_64 rng(4);
  const uint64_t random_size = 65537 + rng() % 70000;
  uint64_t exported = 0;
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{256}, uint64_t{257},
                        uint64_t{65535}, uint64_t{65536}, uint64_t{65537}, random_size}) {
    SCOPED_TRACE(absl::StrCat("size ", size));
    GrowAndPublish(size);
    // A fresh directory for this size alone, and the growing one.
    const std::string fresh = tmp_.Sub(absl::StrCat("fresh-", size));
    absl::StatusOr<ExportReport> r = ExportTiles(storage_, fresh);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->size, size);
    EXPECT_EQ(r->files_written, TilesForTree(size, true).size());
    const std::set<std::string> before = earlier_partials_;
    earlier_partials_.clear();
    ExpectAuthenticExport(fresh, size);
    earlier_partials_ = before;

    const std::string growing = tmp_.Sub("growing");
    r = ExportTiles(storage_, growing);
    ASSERT_TRUE(r.ok()) << r.status();
    ExpectAuthenticExport(growing, size);
    RememberPartials(growing);
    exported = size;
  }
  EXPECT_EQ(exported, random_size);
}

TEST_F(ExportTest, FullTilesAreWrittenOnceAndPartialOnesFollowTheSize) {
  GrowAndPublish(600);  // tiles 0/000, 0/001 full, 0/002.p/88; 1/000.p/2
  const std::string out = tmp_.Sub("out");
  absl::StatusOr<ExportReport> r = ExportTiles(storage_, out);
  ASSERT_TRUE(r.ok()) << r.status();
  const auto full_mtime = std::filesystem::last_write_time(out + "/tile/0/000");
  // Again at the same size: the full tiles and bundles are left alone.
  r = ExportTiles(storage_, out);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->files_unchanged, 4u);  // 0/000, 0/001, entries/000, entries/001
  EXPECT_EQ(std::filesystem::last_write_time(out + "/tile/0/000"), full_mtime);
  RememberPartials(out);
  GrowAndPublish(800);
  r = ExportTiles(storage_, out);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectAuthenticExport(out, 800);
  EXPECT_TRUE(std::filesystem::exists(out + "/tile/0/002.p/88"));  // still served, still valid
}

TEST_F(ExportTest, ExportsOnlyWhatTheStoredCheckpointSigned) {
  GrowAndPublish(300);
  // Sequenced further, but the newest checkpoint still says 300.
  AppendEntries(*seq_, 300, 400, 100, &ref_);
  const std::string out = tmp_.Sub("out");
  absl::StatusOr<ExportReport> r = ExportTiles(storage_, out);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->size, 300u);
  ExpectAuthenticExport(out, 300);
}

TEST_F(ExportTest, NothingPublishedIsFailedPrecondition) {
  AppendEntries(*seq_, 0, 10, 10, &ref_);
  const std::string out = tmp_.Sub("out");
  absl::StatusOr<ExportReport> r = ExportTiles(storage_, out);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_FALSE(std::filesystem::exists(out + "/checkpoint"));
}

}  // namespace
}  // namespace infratrail
