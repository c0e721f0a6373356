#include "core/witness_policy.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/checkpoint.h"
#include "core/cosignature.h"
#include "core/hash.h"
#include "core/note.h"
#include "core/note_key.h"
#include "core/tlog_policy.h"
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

// The tlog-policy quorum counts witnesses by the policy's names, matched by
// key (name and key ID), and a group of 2 of 3 needs two of them.
TEST(OpenCheckpoint, TlogPolicyQuorumIsEvaluatedOverPolicyNames) {
  const NoteSigner log = *NoteSigner::FromSeed("log.example/q", std::string(32, 'l'));
  const NoteVerifier vlog = *NoteVerifier::Parse(log.VerifierKey());
  std::vector<NoteSigner> w;
  for (char c : {'a', 'b', 'c'}) {
    w.push_back(*NoteSigner::FromSeed(std::string("w.example/") + c, std::string(32, c)));
  }
  // A witness key with w[0]'s name and another key: must not count as w[0].
  const NoteSigner impostor = *NoteSigner::FromSeed("w.example/a", std::string(32, 'x'));
  const std::string text =
      absl::StrCat("log ", log.VerifierKey(), "\n",  //
                   "witness first ", w[0].CosignatureVerifierKey(), " https://a.example/\n",
                   "witness second ", w[1].CosignatureVerifierKey(), "\n",  //
                   "witness third ", w[2].CosignatureVerifierKey(), "\n",   //
                   "group two 2 first second third\n", "quorum two\n");
  absl::StatusOr<TlogPolicy> parsed = TlogPolicy::Parse(text, "policy");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const WitnessPolicy policy =
      WitnessPolicy::FromTlogPolicy(std::make_shared<const TlogPolicy>(*parsed));
  ASSERT_EQ(policy.witnesses.size(), 3u);
  EXPECT_TRUE(policy.requires_cosignatures());

  const Checkpoint cp{"log.example/q", 5, HashLeaf("five"), {}};
  const std::string signed_note = *SignNote(cp.Body(), {log});
  auto cosigned_by = [&](std::vector<const NoteSigner*> signers) {
    std::vector<NoteSignature> sigs;
    for (const NoteSigner* s : signers) sigs.push_back(*Cosign(*s, cp.Body(), 1700000000));
    return *AddSignatures(signed_note, sigs);
  };
  absl::StatusOr<VerifiedCheckpoint> none = OpenCheckpoint(signed_note, vlog, policy);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated) << none.status();
  absl::StatusOr<VerifiedCheckpoint> one = OpenCheckpoint(cosigned_by({&w[1]}), vlog, policy);
  EXPECT_EQ(one.status().code(), absl::StatusCode::kUnauthenticated) << one.status();
  EXPECT_NE(one.status().message().find("w.example/b"), absl::string_view::npos) << one.status();
  absl::StatusOr<VerifiedCheckpoint> fake =
      OpenCheckpoint(cosigned_by({&w[1], &impostor}), vlog, policy);
  EXPECT_EQ(fake.status().code(), absl::StatusCode::kUnauthenticated) << fake.status();
  absl::StatusOr<VerifiedCheckpoint> two =
      OpenCheckpoint(cosigned_by({&w[0], &w[2]}), vlog, policy);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->witness_count, 2u);

  // `quorum none` needs nothing.
  absl::StatusOr<TlogPolicy> open_policy = TlogPolicy::Parse("quorum none\n", "p");
  ASSERT_TRUE(open_policy.ok());
  const WitnessPolicy nothing =
      WitnessPolicy::FromTlogPolicy(std::make_shared<const TlogPolicy>(*open_policy));
  EXPECT_FALSE(nothing.requires_cosignatures());
  EXPECT_TRUE(OpenCheckpoint(signed_note, vlog, nothing).ok());
}

}  // namespace
}  // namespace infratrail
