#include "core/note.h"

#include "core/checkpoint.h"
#include "core/cosignature.h"
#include "core/encoding.h"
#include "gtest/gtest.h"

namespace infratrail {
namespace {

NoteSigner Key(absl::string_view name, char seed_byte) {
  return *NoteSigner::FromSeed(name, std::string(32, seed_byte));
}

class NoteTest : public ::testing::Test {
 protected:
  NoteSigner log_ = Key("example.com/log", 1);
  NoteSigner other_ = Key("example.com/other", 2);
  NoteVerifier log_v_ = *NoteVerifier::Parse(log_.VerifierKey());
  NoteVerifier other_v_ = *NoteVerifier::Parse(other_.VerifierKey());
  std::string text_ = "example.com/log\n3\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
};

TEST_F(NoteTest, KeysRoundTripThroughTextForm) {
  absl::StatusOr<NoteSigner> parsed = NoteSigner::Parse(log_.SignerKey());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->VerifierKey(), log_.VerifierKey());
  EXPECT_EQ(log_v_.name(), "example.com/log");
  EXPECT_EQ(log_v_.key_id(), log_.key_id());
  EXPECT_EQ(log_v_.vkey(), log_.VerifierKey());
  absl::StatusOr<NoteSigner> fresh = NoteSigner::Generate("fresh.example");
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(fresh->SignerKey(), NoteSigner::Generate("fresh.example")->SignerKey());
  EXPECT_TRUE(NoteVerifier::Parse(fresh->VerifierKey()).ok());
}

TEST_F(NoteTest, RejectsBadKeyNames) {
  for (const char* name : {"", "a+b", "a b", "a\tb", "a\u2003b", "\xff"}) {
    EXPECT_FALSE(NoteSigner::Generate(name).ok()) << name;
  }
}

TEST_F(NoteTest, SignedNoteOpensWithKnownKey) {
  absl::StatusOr<std::string> signed_note = SignNote(text_, {log_});
  ASSERT_TRUE(signed_note.ok());
  absl::StatusOr<Note> n = OpenNote(*signed_note, {log_v_});
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->text, text_);
  ASSERT_EQ(n->verified.size(), 1u);
  EXPECT_EQ(n->verified[0].name, "example.com/log");
  EXPECT_TRUE(n->unverified.empty());
}

TEST_F(NoteTest, UnknownKeysAreIgnoredButOneKnownIsRequired) {
  std::string both = *SignNote(text_, {log_, other_});
  absl::StatusOr<Note> n = OpenNote(both, {log_v_});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->unverified.size(), 1u);
  absl::StatusOr<Note> none = OpenNote(both, {});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(none.status().message(), "note has no verifiable signatures");
}

TEST_F(NoteTest, RejectsTamperedTextAndSignature) {
  std::string note = *SignNote(text_, {log_});
  std::string tampered_text = note;
  tampered_text[17] = '4';  // tree size 3 -> 4
  EXPECT_EQ(OpenNote(tampered_text, {log_v_}).status().code(), absl::StatusCode::kUnauthenticated);
  // Flip one bit of the signature itself (after key ID), keeping base64 canonical.
  absl::StatusOr<Note> parsed = ParseNote(note);
  std::string raw = *Base64DecodeStrict(parsed->unverified[0].base64, "sig");
  raw[10] ^= 1;
  std::string forged = text_ + "\n\xe2\x80\x94 example.com/log " + Base64Encode(raw) + "\n";
  absl::Status s = OpenNote(forged, {log_v_}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("invalid signature for key example.com/log+"),
            absl::string_view::npos);
}

TEST_F(NoteTest, RejectsMalformedNotes) {
  const std::string good = *SignNote(text_, {log_});
  const std::string sig_line = good.substr(text_.size() + 1);
  struct Case {
    std::string name;
    std::string note;
  };
  std::vector<Case> cases = {
      {"empty", ""},
      {"truncated", good.substr(0, good.size() - 1)},
      {"no blank line", text_ + sig_line},
      {"no signatures", text_ + "\n"},
      {"bad base64", text_ + "\n\xe2\x80\x94 example.com/log AAAA!!==\n"},
      {"non-canonical base64", text_ + "\n" + sig_line.substr(0, sig_line.size() - 2) + "\n"},
      {"short signature", text_ + "\n\xe2\x80\x94 example.com/log AAAA\n"},
      {"name with plus", text_ + "\n\xe2\x80\x94 a+b " + sig_line.substr(sig_line.rfind(' ') + 1)},
      {"no em dash", text_ + "\n- example.com/log AAAAAAA=\n"},
      {"control char",
       "a\x01"
       "b\n\n" +
           sig_line},
      {"invalid utf8",
       "a\xff"
       "b\n\n" +
           sig_line},
      {"overlong utf8",
       "a\xc0\xaf"
       "b\n\n" +
           sig_line},
      {"oversized", std::string(kMaxNoteBytes, 'a') + "\n\n" + sig_line},
      {"no final newline on text", "abc\n" + sig_line},
  };
  std::string many = good;
  for (size_t i = 0; i < kMaxNoteSignatures; ++i) {
    many += "\xe2\x80\x94 other" + std::to_string(i) + " AAAAAAA=\n";
  }
  cases.push_back({"too many signatures", many});
  for (const Case& c : cases) {
    absl::Status s = OpenNote(c.note, {log_v_}).status();
    EXPECT_FALSE(s.ok()) << c.name;
    EXPECT_NE(s.code(), absl::StatusCode::kOk);
  }
}

TEST_F(NoteTest, RepeatedIdenticalLinesCountOnceButDifferentSignaturesFromOneKeyAreRejected) {
  const std::string good = *SignNote(text_, {log_});
  const std::string sig_line = good.substr(text_.size() + 1);
  absl::StatusOr<Note> dup = OpenNote(good + sig_line, {log_v_});
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(dup->verified.size(), 1u);
  // A second, different cosignature from the same witness.
  absl::StatusOr<NoteSignature> c1 = Cosign(other_, text_, 100);
  absl::StatusOr<NoteSignature> c2 = Cosign(other_, text_, 101);
  std::string two = *AddSignatures(good, {*c1, *c2});
  NoteVerifier witness = *NoteVerifier::Parse(other_.CosignatureVerifierKey());
  absl::Status s = OpenNote(two, {log_v_, witness}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("two different signatures"), absl::string_view::npos);
}

TEST_F(NoteTest, AmbiguousVerifiersAreRejectedOnlyWhenUsed) {
  const std::string good = *SignNote(text_, {log_});
  EXPECT_EQ(OpenNote(good, {log_v_, log_v_}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(OpenNote(good, {log_v_, other_v_, other_v_}).ok());
}

TEST_F(NoteTest, SignRejectsInvalidText) {
  EXPECT_FALSE(SignNote("no newline", {log_}).ok());
  EXPECT_FALSE(SignNote("ctrl\x07\n", {log_}).ok());
  EXPECT_FALSE(SignNote("ok\n", {}).ok());
}

TEST_F(NoteTest, CosignatureVerifiesWithTimestampAndBindsTheBody) {
  absl::StatusOr<NoteSignature> c = Cosign(other_, text_, 1700000000);
  ASSERT_TRUE(c.ok());
  std::string note = *AddSignatures(*SignNote(text_, {log_}), {*c});
  NoteVerifier witness = *other_v_.AsCosignatureVerifier();
  EXPECT_EQ(witness.vkey(), other_.CosignatureVerifierKey());
  absl::StatusOr<Note> n = OpenNote(note, {log_v_, witness});
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(n->verified.size(), 2u);
  EXPECT_EQ(n->verified[1].timestamp, 1700000000u);
  // The plain (type 0x01) key has another key ID, so it does not match.
  EXPECT_EQ(OpenNote(note, {other_v_}).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(Cosign(other_, "not a checkpoint\n", 1).ok());
}

TEST_F(NoteTest, VerifierKeyParseRejectsMalformedKeys) {
  const std::string v = log_.VerifierKey();
  const size_t p1 = v.find('+'), p2 = v.find('+', p1 + 1);
  const std::string name = v.substr(0, p1), id = v.substr(p1 + 1, 8), key = v.substr(p2 + 1);
  for (const std::string& bad :
       {std::string(""), name, name + "+" + id, "+" + id + "+" + key,
        name + "+" + id.substr(1) + "+" + key, name + "+zzzzzzzz+" + key,
        name + "+" + id + "+" + key.substr(1), name + "x+" + id + "+" + key,
        name + "+00000000+" + key, "a b+" + id + "+" + key,
        name + "+" + id + "+" + Base64Encode(std::string("\x01", 1) + std::string(31, 'k')),
        name + "+" + id + "+" + Base64Encode(std::string("\x09", 1) + std::string(32, 'k')),
        name + "+" + id + "+"}) {
    EXPECT_FALSE(NoteVerifier::Parse(bad).ok()) << bad;
  }
  EXPECT_FALSE(NoteSigner::Parse(v).ok());
  EXPECT_FALSE(NoteSigner::Parse("PRIVATE+KEY+x+00000000+AQ==").ok());
  // A signer key error never echoes the secret.
  std::string skey = log_.SignerKey();
  skey[skey.size() - 3] ^= 1;
  absl::Status s = NoteSigner::Parse(skey).status();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message().find(skey.substr(skey.rfind('+') + 1)), absl::string_view::npos);
}

}  // namespace
}  // namespace infratrail
