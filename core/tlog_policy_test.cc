#include "core/tlog_policy.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace infratrail {
namespace {

using ::testing::HasSubstr;

struct Keys {
  NoteSigner log = *NoteSigner::Generate("log.example/log");
  NoteSigner x1 = *NoteSigner::Generate("x1.example/w");
  NoteSigner x2 = *NoteSigner::Generate("x2.example/w");
  NoteSigner x3 = *NoteSigner::Generate("x3.example/w");
  NoteSigner y1 = *NoteSigner::Generate("y1.example/w");
};

// The spec's two-level example, with real keys.
std::string Example(const Keys& k) {
  return absl::StrCat("# example\nlog ", k.log.VerifierKey(), " https://log.example/\n\n",
                      "witness X1 ", k.x1.CosignatureVerifierKey(), " https://x1.example/\n",
                      "witness X2 ", k.x2.CosignatureVerifierKey(), "\n", "  witness\tX3 ",
                      k.x3.VerifierKey(), "   \n",  // an Ed25519 key, tabs and spaces
                      "group X-witnesses 2 X1 X2 X3\n", "witness Y1 ",
                      k.y1.CosignatureVerifierKey(), "\n", "group Y-witnesses any Y1\n",
                      "group X-and-Y all X-witnesses Y-witnesses\n", "quorum X-and-Y\n");
}

TEST(TlogPolicy, ParsesTheSpecExampleAndEvaluatesItsQuorum) {
  Keys k;
  absl::StatusOr<TlogPolicy> p = TlogPolicy::Parse(Example(k), "policy");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->logs().size(), 1u);
  EXPECT_EQ(p->logs()[0].url, "https://log.example/");
  ASSERT_EQ(p->witnesses().size(), 4u);
  EXPECT_EQ(p->witnesses()[0].url, "https://x1.example/");
  // X3 was given as an Ed25519 key: it is used as its cosignature key.
  EXPECT_EQ(p->witnesses()[2].key.type(), SigType::kCosignatureV1);
  EXPECT_EQ(p->witnesses()[2].key.vkey(), k.x3.CosignatureVerifierKey());
  EXPECT_FALSE(p->quorum_none());
  EXPECT_TRUE(p->Satisfied({"X1", "X2", "Y1"}));
  EXPECT_TRUE(p->Satisfied({"X1", "X3", "Y1"}));
  EXPECT_FALSE(p->Satisfied({"X1", "Y1"}));        // one X is not two
  EXPECT_FALSE(p->Satisfied({"X1", "X2", "X3"}));  // no Y
  EXPECT_FALSE(p->Satisfied({}));
}

TEST(TlogPolicy, QuorumNoneNeedsNoCosignature) {
  Keys k;
  absl::StatusOr<TlogPolicy> p =
      TlogPolicy::Parse(absl::StrCat("log ", k.log.VerifierKey(), "\nquorum none\n"), "p");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->quorum_none());
  EXPECT_TRUE(p->Satisfied({}));
}

TEST(TlogPolicy, ASingleWitnessCanBeTheQuorum) {
  Keys k;
  absl::StatusOr<TlogPolicy> p = TlogPolicy::Parse(
      absl::StrCat("witness W ", k.x1.CosignatureVerifierKey(), "\nquorum W\n"), "p");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->Satisfied({"W"}));
  EXPECT_FALSE(p->Satisfied({"V"}));
}

// Every grammar error names the line and the column of the item at fault.
TEST(TlogPolicy, GrammarErrorsNameLineAndColumn) {
  Keys k;
  const std::string w1 = absl::StrCat("witness A ", k.x1.CosignatureVerifierKey(), "\n");
  const std::string w2 = absl::StrCat("witness B ", k.x2.CosignatureVerifierKey(), "\n");
  struct Case {
    std::string text;
    std::string want;
  };
  const Case cases[] = {
      {"quorum none\nlogg x\n", "p:2:1: unknown keyword \"logg\""},
      {absl::StrCat(w1, "group G 1 A\ngroup H 1 A\nquorum G\n"),
       "p:3:11: \"A\" is already a group member"},
      {absl::StrCat(w1, "group G 1 A A\nquorum G\n"), "p:2:13: \"A\" is already a group member"},
      {absl::StrCat(w1, "group G 1 B\nquorum G\n"),
       "p:2:11: \"B\" is not defined on an earlier line"},
      {absl::StrCat(w1, "quorum G\ngroup G 1 A\n"), "p:2:8: \"G\" is not defined"},
      {absl::StrCat(w1, w2, "group G 3 A B\nquorum G\n"), "p:3:9: threshold 3 is not between 1"},
      {absl::StrCat(w1, w2, "group G 0 A B\nquorum G\n"), "p:3:9: threshold 0"},
      {absl::StrCat(w1, "group G two A\nquorum G\n"), "p:2:9: threshold \"two\""},
      {absl::StrCat(w1, "group G any\nquorum G\n"), "p:2:1: expected \"group"},
      {absl::StrCat(w1, "group G 1 none\nquorum G\n"), "p:2:11: \"none\" cannot be a group member"},
      {absl::StrCat(w1), "p: no quorum line"},
      {absl::StrCat(w1, "quorum A\nquorum A\n"), "p:3:1: a second quorum line"},
      {"witness W not-a-vkey\nquorum none\n", "p:1:11: vkey:"},
      {absl::StrCat("log ", k.x1.CosignatureVerifierKey(), "\nquorum none\n"),
       "p:1:5: a log key must be a checkpoint signing key"},
      {absl::StrCat(w1, "witness A ", k.x2.CosignatureVerifierKey(), "\nquorum none\n"),
       "p:2:9: \"A\" is already defined"},
      {absl::StrCat(w1, "witness C ", k.x1.VerifierKey(), "\nquorum none\n"),
       "p:2:11: a witness with this public key is already listed"},
      {absl::StrCat("log ", k.log.VerifierKey(), "\nlog ", k.log.VerifierKey(), "\nquorum none\n"),
       "p:2:5: a log with this public key is already listed"},
      {absl::StrCat("witness none ", k.x1.CosignatureVerifierKey(), "\nquorum none\n"),
       "p:1:9: the name \"none\" is reserved"},
      {"quorum none\n\x01\n", "p:2:1: control character 0x01"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<TlogPolicy> p = TlogPolicy::Parse(c.text, "p");
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_THAT(std::string(p.status().message()), HasSubstr(c.want)) << c.text;
  }
}

TEST(TlogPolicy, NamesAreOpaqueOctets) {
  Keys k;
  // "K" and a Kelvin sign are two names.
  absl::StatusOr<TlogPolicy> p = TlogPolicy::Parse(
      absl::StrCat("witness K ", k.x1.CosignatureVerifierKey(), "\nwitness \xE2\x84\xAA ",
                   k.x2.CosignatureVerifierKey(), "\ngroup G all K \xE2\x84\xAA\nquorum G\n"),
      "p");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->Satisfied({"K"}));
  EXPECT_TRUE(p->Satisfied({"K", "\xE2\x84\xAA"}));
}

}  // namespace
}  // namespace infratrail
