#include "core/witness_policy.h"

#include <string>

#include "core/checkpoint.h"
#include "core/hash.h"
#include "core/note.h"
#include "core/note_key.h"
#include "gtest/gtest.h"

namespace infratrail {
namespace {

TEST(OpenCheckpoint, EmptyTreeMustCarryTheEmptyRoot) {
  const NoteSigner key = *NoteSigner::FromSeed("log.example/empty", std::string(32, 'z'));
  const NoteVerifier vkey = *NoteVerifier::Parse(key.VerifierKey());
  Checkpoint cp{"log.example/empty", 0, Hasher::EmptyRoot(), {}};
  absl::StatusOr<VerifiedCheckpoint> good =
      OpenCheckpoint(*SignNote(cp.Body(), {key}), vkey, WitnessPolicy{});
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->checkpoint.size, 0u);

  // Signed by the log, well formed, and false: no tree of size 0 has it.
  cp.root = HashLeaf("made up");
  absl::StatusOr<VerifiedCheckpoint> bad =
      OpenCheckpoint(*SignNote(cp.Body(), {key}), vkey, WitnessPolicy{});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
  // Any root goes for a non-empty tree (a proof is what checks it).
  cp.size = 1;
  EXPECT_TRUE(OpenCheckpoint(*SignNote(cp.Body(), {key}), vkey, WitnessPolicy{}).ok());
}

}  // namespace
}  // namespace infratrail
