#include "server/checkpoint_signer.h"

#include <sys/stat.h>

#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "core/io/file_util.h"
#include "core/note.h"
#include "core/witness_policy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/testing_util.h"

namespace infratrail {
namespace {

using ::testing::HasSubstr;
using testutil::EntryData;
using testutil::MerkleReference;
using testutil::ScopedTempDir;

constexpr absl::string_view kOrigin = "example.com/log";

NoteSigner NewKey(absl::string_view name = kOrigin) {
  absl::StatusOr<NoteSigner> k = NoteSigner::Generate(name);
  EXPECT_TRUE(k.ok()) << k.status();
  return *k;
}

MerkleReference Tree(uint64_t size, absl::string_view tag = "entry") {
  MerkleReference ref;
  for (uint64_t i = 0; i < size; ++i) ref.AddEntry(EntryData(i, tag));
  return ref;
}

class CheckpointSignerTest : public ::testing::Test {
 protected:
  CheckpointSignerTest() : key_(NewKey()), path_(dir_.Sub("signer-state")), ref_(Tree(1000)) {}

  CheckpointSigner OpenSigner() {
    absl::StatusOr<CheckpointSigner> s = CheckpointSigner::Open(key_, path_);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }

  // Proves from ref_ and counts its calls.
  CheckpointSigner::ConsistencyProver Prover(MerkleReference* ref) {
    return [this, ref](uint64_t a, uint64_t b) -> absl::StatusOr<std::vector<Hash>> {
      ++prover_calls_;
      return ref->Consistency(a, b);
    };
  }

  std::string StateFile() {
    absl::StatusOr<std::string> s = ReadFileToString(path_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.value_or("");
  }

  absl::StatusOr<std::string> Sign(CheckpointSigner& s, uint64_t size) {
    return s.Sign(size, ref_.Root(size), Prover(&ref_));
  }

  ScopedTempDir dir_;
  NoteSigner key_;
  std::string path_;
  MerkleReference ref_;
  int prover_calls_ = 0;
};

TEST_F(CheckpointSignerTest, FirstSignCreatesAPrivateStateFile) {
  CheckpointSigner s = OpenSigner();
  EXPECT_FALSE(s.last_signed().has_value());
  EXPECT_TRUE(absl::IsNotFound(ReadFileToString(path_).status()));
  absl::StatusOr<std::string> note = Sign(s, 10);
  ASSERT_TRUE(note.ok()) << note.status();
  EXPECT_EQ(prover_calls_, 0);

  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(StateFile(), absl::StrCat("infratrail-signer-state v1\norigin ", kOrigin,
                                      "\nsize 10\nroot ", HashToBase64(ref_.Root(10)), "\n"));
  ASSERT_TRUE(s.last_signed().has_value());
  EXPECT_EQ(s.last_signed()->size, 10u);
  EXPECT_EQ(s.last_signed()->root, ref_.Root(10));
}

TEST_F(CheckpointSignerTest, SignedNoteOpensUnderTheLogKey) {
  CheckpointSigner s = OpenSigner();
  absl::StatusOr<std::string> note = Sign(s, 7);
  ASSERT_TRUE(note.ok()) << note.status();
  absl::StatusOr<NoteVerifier> v = NoteVerifier::Parse(key_.VerifierKey());
  ASSERT_TRUE(v.ok()) << v.status();

  absl::StatusOr<VerifiedCheckpoint> cp = OpenCheckpoint(*note, *v, WitnessPolicy{});
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->checkpoint.origin, kOrigin);
  EXPECT_EQ(cp->checkpoint.size, 7u);
  EXPECT_EQ(cp->checkpoint.root, ref_.Root(7));

  const NoteVerifier verifiers[] = {*v};
  absl::StatusOr<Note> opened = OpenNote(*note, verifiers);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->verified.size(), 1u);

  // Another key of the same name does not verify it.
  absl::StatusOr<NoteVerifier> other = NoteVerifier::Parse(NewKey().VerifierKey());
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_FALSE(OpenCheckpoint(*note, *other, WitnessPolicy{}).ok());
}

TEST_F(CheckpointSignerTest, SignsAGrowingConsistentTree) {
  CheckpointSigner s = OpenSigner();
  for (uint64_t n : {1u, 3u, 256u, 257u, 1000u}) {
    absl::StatusOr<std::string> note = Sign(s, n);
    ASSERT_TRUE(note.ok()) << n << ": " << note.status();
  }
  EXPECT_EQ(prover_calls_, 4);
  // The same head again is signed without a proof and without rewriting.
  const std::string before = StateFile();
  absl::StatusOr<std::string> again = Sign(s, 1000);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(prover_calls_, 4);
  EXPECT_EQ(StateFile(), before);
}

TEST_F(CheckpointSignerTest, RefusesASmallerTree) {
  CheckpointSigner s = OpenSigner();
  ASSERT_TRUE(Sign(s, 10).ok());
  const std::string before = StateFile();
  absl::StatusOr<std::string> note = Sign(s, 9);
  EXPECT_TRUE(absl::IsFailedPrecondition(note.status())) << note.status();
  EXPECT_THAT(note.status().message(), HasSubstr("already signed size 10"));
  EXPECT_EQ(StateFile(), before);
  EXPECT_EQ(s.last_signed()->size, 10u);
}

TEST_F(CheckpointSignerTest, RefusesAnotherRootAtTheSameSize) {
  CheckpointSigner s = OpenSigner();
  ASSERT_TRUE(Sign(s, 10).ok());
  const std::string before = StateFile();
  MerkleReference fork = Tree(10, "fork");
  absl::StatusOr<std::string> note = s.Sign(10, fork.Root(10), Prover(&fork));
  EXPECT_TRUE(absl::IsFailedPrecondition(note.status())) << note.status();
  EXPECT_EQ(StateFile(), before);
  EXPECT_EQ(s.last_signed()->root, ref_.Root(10));
}

TEST_F(CheckpointSignerTest, RefusesABiggerTreeThatIsNotAnExtension) {
  CheckpointSigner s = OpenSigner();
  ASSERT_TRUE(Sign(s, 8).ok());
  const std::string before = StateFile();
  // Same first five entries, then different ones: a fork of the signed tree.
  MerkleReference fork;
  for (uint64_t i = 0; i < 12; ++i) fork.AddEntry(EntryData(i, i < 5 ? "entry" : "fork"));
  absl::StatusOr<std::string> note = s.Sign(12, fork.Root(12), Prover(&fork));
  EXPECT_TRUE(absl::IsFailedPrecondition(note.status())) << note.status();
  EXPECT_THAT(note.status().message(), HasSubstr("not consistent"));
  // A proof from the honest tree does not lead to the forked root either.
  note = s.Sign(12, fork.Root(12), Prover(&ref_));
  EXPECT_TRUE(absl::IsFailedPrecondition(note.status())) << note.status();
  EXPECT_EQ(StateFile(), before);
  EXPECT_EQ(s.last_signed()->size, 8u);
}

TEST_F(CheckpointSignerTest, ProverFailureSignsNothing) {
  CheckpointSigner s = OpenSigner();
  ASSERT_TRUE(Sign(s, 8).ok());
  const std::string before = StateFile();
  absl::StatusOr<std::string> note =
      s.Sign(20, ref_.Root(20), [](uint64_t, uint64_t) -> absl::StatusOr<std::vector<Hash>> {
        return absl::DataLossError("tile missing");
      });
  EXPECT_TRUE(absl::IsDataLoss(note.status())) << note.status();
  EXPECT_EQ(StateFile(), before);
}

TEST_F(CheckpointSignerTest, RefusalsSurviveReopening) {
  {
    CheckpointSigner s = OpenSigner();
    ASSERT_TRUE(Sign(s, 100).ok());
  }
  CheckpointSigner s = OpenSigner();
  ASSERT_TRUE(s.last_signed().has_value());
  EXPECT_EQ(s.last_signed()->size, 100u);
  EXPECT_EQ(s.last_signed()->root, ref_.Root(100));
  EXPECT_TRUE(absl::IsFailedPrecondition(Sign(s, 99).status()));
  MerkleReference fork = Tree(150, "fork");
  EXPECT_TRUE(absl::IsFailedPrecondition(s.Sign(100, fork.Root(100), Prover(&fork)).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(s.Sign(150, fork.Root(150), Prover(&fork)).status()));
  EXPECT_TRUE(Sign(s, 150).ok());
}

TEST_F(CheckpointSignerTest, OpenRejectsTheStateOfAnotherLog) {
  {
    CheckpointSigner s = OpenSigner();
    ASSERT_TRUE(Sign(s, 5).ok());
  }
  absl::StatusOr<CheckpointSigner> other =
      CheckpointSigner::Open(NewKey("other.example/log"), path_);
  EXPECT_TRUE(absl::IsInvalidArgument(other.status())) << other.status();
  EXPECT_THAT(other.status().message(), HasSubstr("another log"));
}

TEST_F(CheckpointSignerTest, OpenRejectsMalformedState) {
  const std::string root = HashToBase64(ref_.Root(5));
  const std::string good =
      absl::StrCat("infratrail-signer-state v1\norigin ", kOrigin, "\nsize 5\nroot ", root, "\n");
  ASSERT_TRUE(WriteFileAtomic(path_, good, 0600).ok());
  ASSERT_TRUE(CheckpointSigner::Open(key_, path_).ok());  // the control

  const std::vector<std::string> bad = {
      "",
      "garbage",
      good.substr(0, good.size() - 1),  // no final newline
      good + "extra\n",
      absl::StrCat("infratrail-signer-state v2\norigin ", kOrigin, "\nsize 5\nroot ", root, "\n"),
      absl::StrCat("infratrail-signer-state v1\norigin ", kOrigin, "\nsize five\nroot ", root,
                   "\n"),
      absl::StrCat("infratrail-signer-state v1\norigin ", kOrigin, "\nsize -5\nroot ", root, "\n"),
      absl::StrCat("infratrail-signer-state v1\norigin ", kOrigin, "\nsize 5\nroot AAAA\n"),
      absl::StrCat("infratrail-signer-state v1\norigin ", kOrigin, "\nsize 5\n", root, "\n"),
      absl::StrCat("infratrail-signer-state v1\nsize 5\norigin ", kOrigin, "\nroot ", root, "\n"),
  };
  for (const std::string& text : bad) {
    ASSERT_TRUE(WriteFileAtomic(path_, text, 0600).ok());
    absl::StatusOr<CheckpointSigner> s = CheckpointSigner::Open(key_, path_);
    EXPECT_TRUE(absl::IsInvalidArgument(s.status())) << "accepted: " << text;
  }
}

TEST_F(CheckpointSignerTest, AdoptRecordsAHeadOnlyWhenNoneExists) {
  CheckpointSigner s = OpenSigner();
  ASSERT_TRUE(s.Adopt(SignedHead{50, ref_.Root(50)}).ok());
  EXPECT_EQ(s.last_signed()->size, 50u);
  EXPECT_TRUE(absl::IsFailedPrecondition(Sign(s, 49).status()));
  EXPECT_TRUE(Sign(s, 60).ok());
  EXPECT_EQ(prover_calls_, 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(s.Adopt(SignedHead{70, ref_.Root(70)})));

  CheckpointSigner reopened = OpenSigner();
  EXPECT_TRUE(absl::IsFailedPrecondition(reopened.Adopt(SignedHead{1, ref_.Root(1)})));
  EXPECT_EQ(reopened.last_signed()->size, 60u);
}

}  // namespace
}  // namespace infratrail
