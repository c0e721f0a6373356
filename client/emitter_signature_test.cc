#include "client/emitter_signature.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "infratrail/v1/event.pb.h"

namespace infratrail {
namespace {

NoteSigner Key(absl::string_view name, char seed_byte) {
  return *NoteSigner::FromSeed(name, std::string(32, seed_byte));
}

NoteVerifier VerifierOf(const NoteSigner& signer) {
  return *NoteVerifier::Parse(signer.VerifierKey());
}

// Prefix of the serialization of an event with only kind set; the rest of
// the unsigned event serializes separately, so a record can go in between.
std::string KindPart() {
  v1::InfraEvent e;
  e.set_kind(v1::DEPLOY);
  return e.SerializeAsString();
}

std::string RestPart() {
  v1::InfraEvent e;
  e.mutable_resource()->set_id("i-0abc");
  e.mutable_resource()->set_provider("aws");
  e.mutable_actor()->set_principal("alice@example.com");
  e.set_artifact_digest("sha256:" + std::string(64, 'a'));
  (*e.mutable_attributes())["region"] = "eu-west-1";
  return e.SerializeAsString();
}

class EmitterSignatureTest : public ::testing::Test {
 protected:
  NoteSigner ops_ = Key("ops.example.com/emitter", 1);
  NoteSigner bridge_ = Key("aws-bridge.example.com", 2);
  NoteVerifier ops_v_ = VerifierOf(ops_);
  NoteVerifier bridge_v_ = VerifierOf(bridge_);
  std::string unsigned_ = KindPart() + RestPart();
};

TEST_F(EmitterSignatureTest, SignedEventVerifiesWithItsKey) {
  absl::StatusOr<std::string> signed_event = SignEvent(unsigned_, ops_);
  ASSERT_TRUE(signed_event.ok()) << signed_event.status();
  EXPECT_EQ(signed_event->substr(0, unsigned_.size()), unsigned_);  // appended, not rewritten
  absl::StatusOr<std::vector<EmitterSignatureCheck>> checks =
      CheckEmitterSignatures(*signed_event, {ops_v_});
  ASSERT_TRUE(checks.ok()) << checks.status();
  ASSERT_EQ(checks->size(), 1u);
  EXPECT_EQ((*checks)[0].key_name, ops_.name());
  EXPECT_EQ((*checks)[0].key_id, ops_.key_id());
  EXPECT_EQ((*checks)[0].result, EmitterSignatureResult::kVerified);
}

TEST_F(EmitterSignatureTest, UnsignedEventHasNoChecks) {
  absl::StatusOr<std::vector<EmitterSignatureCheck>> checks =
      CheckEmitterSignatures(unsigned_, {ops_v_});
  ASSERT_TRUE(checks.ok()) << checks.status();
  EXPECT_TRUE(checks->empty());
}

TEST_F(EmitterSignatureTest, TwoEmittersVerifyInEitherOrder) {
  const std::string ops_first = *SignEvent(*SignEvent(unsigned_, ops_), bridge_);
  const std::string bridge_first = *SignEvent(*SignEvent(unsigned_, bridge_), ops_);
  for (const std::string& e : {ops_first, bridge_first}) {
    absl::StatusOr<std::vector<EmitterSignatureCheck>> checks =
        CheckEmitterSignatures(e, {ops_v_, bridge_v_});
    ASSERT_TRUE(checks.ok()) << checks.status();
    ASSERT_EQ(checks->size(), 2u);
    EXPECT_EQ((*checks)[0].result, EmitterSignatureResult::kVerified);
    EXPECT_EQ((*checks)[1].result, EmitterSignatureResult::kVerified);
    EXPECT_EQ(*UnsignedEventBytes(e), unsigned_);
  }
  EXPECT_EQ((*CheckEmitterSignatures(ops_first, {ops_v_, bridge_v_}))[0].key_name, ops_.name());
  EXPECT_EQ((*CheckEmitterSignatures(bridge_first, {ops_v_, bridge_v_}))[0].key_name,
            bridge_.name());
}

TEST_F(EmitterSignatureTest, TamperingAnyUnsignedByteBreaksTheSignature) {
  const std::string signed_event = *SignEvent(unsigned_, ops_);
  for (size_t i = 0; i < unsigned_.size(); ++i) {
    std::string tampered = signed_event;
    tampered[i] ^= 0x01;
    absl::StatusOr<std::vector<EmitterSignatureCheck>> checks =
        CheckEmitterSignatures(tampered, {ops_v_});
    if (!checks.ok()) continue;  // the flip broke the wire format: also rejected
    for (const EmitterSignatureCheck& c : *checks) {
      EXPECT_NE(c.result, EmitterSignatureResult::kVerified) << "byte " << i;
    }
  }
  // A flip inside a string value keeps the structure: exactly a bad signature.
  std::string tampered = signed_event;
  tampered[tampered.find("i-0abc")] = 'j';
  absl::StatusOr<std::vector<EmitterSignatureCheck>> checks =
      CheckEmitterSignatures(tampered, {ops_v_});
  ASSERT_TRUE(checks.ok()) << checks.status();
  ASSERT_EQ(checks->size(), 1u);
  EXPECT_EQ((*checks)[0].result, EmitterSignatureResult::kBadSignature);
}

TEST_F(EmitterSignatureTest, SameNameDifferentKeyIdIsUnknownKey) {
  const NoteSigner impostor = Key(ops_.name(), 9);
  ASSERT_NE(impostor.key_id(), ops_.key_id());
  absl::StatusOr<std::vector<EmitterSignatureCheck>> checks =
      CheckEmitterSignatures(*SignEvent(unsigned_, ops_), {VerifierOf(impostor), bridge_v_});
  ASSERT_TRUE(checks.ok()) << checks.status();
  ASSERT_EQ(checks->size(), 1u);
  EXPECT_EQ((*checks)[0].result, EmitterSignatureResult::kUnknownKey);
}

TEST_F(EmitterSignatureTest, CosignatureKeyWithSameNameIsNotUsed) {
  const NoteVerifier cosig = *NoteVerifier::Parse(ops_.CosignatureVerifierKey());
  absl::StatusOr<std::vector<EmitterSignatureCheck>> checks =
      CheckEmitterSignatures(*SignEvent(unsigned_, ops_), {cosig});
  ASSERT_TRUE(checks.ok()) << checks.status();
  EXPECT_EQ((*checks)[0].result, EmitterSignatureResult::kUnknownKey);
}

TEST_F(EmitterSignatureTest, SignatureRecordBeforeOtherFieldsStillVerifies) {
  const std::string signed_event = *SignEvent(unsigned_, ops_);
  const std::string record = signed_event.substr(unsigned_.size());
  const std::string middle = KindPart() + record + RestPart();
  EXPECT_EQ(*UnsignedEventBytes(middle), unsigned_);
  absl::StatusOr<std::vector<EmitterSignatureCheck>> checks =
      CheckEmitterSignatures(middle, {ops_v_});
  ASSERT_TRUE(checks.ok()) << checks.status();
  ASSERT_EQ(checks->size(), 1u);
  EXPECT_EQ((*checks)[0].result, EmitterSignatureResult::kVerified);
  // And signing that event again covers the same U, whatever the record order.
  const std::string both = *SignEvent(middle, bridge_);
  checks = CheckEmitterSignatures(both, {ops_v_, bridge_v_});
  ASSERT_TRUE(checks.ok()) << checks.status();
  ASSERT_EQ(checks->size(), 2u);
  EXPECT_EQ((*checks)[1].result, EmitterSignatureResult::kVerified);
}

TEST_F(EmitterSignatureTest, SigningTwiceWithTheSameKeyIsRefused) {
  absl::StatusOr<std::string> twice = SignEvent(*SignEvent(unsigned_, ops_), ops_);
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(twice.status().message().find("already signed by " + ops_.name()), std::string::npos)
      << twice.status();
}

TEST_F(EmitterSignatureTest, MalformedEntriesAreInvalidArgument) {
  const std::vector<std::string> malformed = {
      std::string("\xff", 1),      // truncated tag varint
      std::string("\x00\x01", 2),  // field number 0
      std::string("\x1a\x05"
                  "ab",
                  4),          // length past the end
      std::string("\x0c", 1),  // end-group with no group
      std::string("\x52\x05"
                  "ab",
                  4),                      // signature record past the end
      std::string("\x08\x80", 2),          // truncated varint value
      unsigned_ + std::string("\x0f", 1),  // wire type 7
  };
  for (const std::string& m : malformed) {
    for (const absl::Status& s : {SignEvent(m, ops_).status(), UnsignedEventBytes(m).status(),
                                  CheckEmitterSignatures(m, {ops_v_}).status()}) {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
      EXPECT_EQ(
          s.message().rfind("emitter signature: entry is not a well-formed protobuf message", 0),
          0u)
          << s;
    }
  }
}

TEST_F(EmitterSignatureTest, MalformedSignatureRecordIsInvalidArgument) {
  const std::string bad_record = unsigned_ + std::string("\x52\x02\x0a\x05", 4);
  for (const absl::Status& s :
       {SignEvent(bad_record, ops_).status(), CheckEmitterSignatures(bad_record, {}).status()}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_NE(s.message().find("not a well-formed EmitterSignature"), std::string::npos) << s;
  }
}

TEST_F(EmitterSignatureTest, ShortSignatureIsBadSignatureNotError) {
  v1::InfraEvent e;
  v1::EmitterSignature* sig = e.add_signatures();
  sig->set_key_name(ops_.name());
  sig->set_key_id(ops_.key_id());
  sig->set_signature(std::string(10, 'x'));
  absl::StatusOr<std::vector<EmitterSignatureCheck>> checks =
      CheckEmitterSignatures(unsigned_ + e.SerializeAsString(), {ops_v_});
  ASSERT_TRUE(checks.ok()) << checks.status();
  ASSERT_EQ(checks->size(), 1u);
  EXPECT_EQ((*checks)[0].result, EmitterSignatureResult::kBadSignature);
}

TEST_F(EmitterSignatureTest, OnlyTheFirstRecordOfAKeyIsVerified) {
  // A hostile entry repeats a configured key's record hundreds of times: the
  // reader verifies the first and no more, whatever the others hold.
  const std::string once = *SignEvent(unsigned_, ops_);
  const std::string record = once.substr(unsigned_.size());
  std::string entry = once;
  for (int i = 0; i < 3; ++i) entry += record;
  absl::StatusOr<std::vector<EmitterSignatureCheck>> checks =
      CheckEmitterSignatures(entry, {ops_v_});
  ASSERT_TRUE(checks.ok()) << checks.status();
  ASSERT_EQ(checks->size(), 4u);
  EXPECT_EQ((*checks)[0].result, EmitterSignatureResult::kVerified);
  for (size_t i = 1; i < 4; ++i)
    EXPECT_EQ((*checks)[i].result, EmitterSignatureResult::kRepeatedKey);

  // A bad first record is not saved by a good later one.
  v1::InfraEvent bad;
  v1::EmitterSignature* sig = bad.add_signatures();
  sig->set_key_name(ops_.name());
  sig->set_key_id(ops_.key_id());
  sig->set_signature(std::string(64, 'x'));
  checks = CheckEmitterSignatures(unsigned_ + bad.SerializeAsString() + record, {ops_v_});
  ASSERT_TRUE(checks.ok()) << checks.status();
  ASSERT_EQ(checks->size(), 2u);
  EXPECT_EQ((*checks)[0].result, EmitterSignatureResult::kBadSignature);
  EXPECT_EQ((*checks)[1].result, EmitterSignatureResult::kRepeatedKey);
}

TEST_F(EmitterSignatureTest, SameKeyConfiguredTwiceIsAmbiguous) {
  absl::StatusOr<std::vector<EmitterSignatureCheck>> checks =
      CheckEmitterSignatures(*SignEvent(unsigned_, ops_), {ops_v_, ops_v_});
  EXPECT_EQ(checks.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(EmitterSignatureTest, ParsedEventCarriesTheSignatures) {
  const std::string signed_event = *SignEvent(*SignEvent(unsigned_, ops_), bridge_);
  v1::InfraEvent e;
  ASSERT_TRUE(e.ParseFromString(signed_event));
  EXPECT_EQ(e.kind(), v1::DEPLOY);
  EXPECT_EQ(e.resource().id(), "i-0abc");
  ASSERT_EQ(e.signatures_size(), 2);
  EXPECT_EQ(e.signatures(0).key_name(), ops_.name());
  EXPECT_EQ(e.signatures(0).key_id(), ops_.key_id());
  EXPECT_EQ(e.signatures(0).signature().size(), 64u);
  EXPECT_EQ(e.signatures(1).key_name(), bridge_.name());
  EXPECT_EQ(e.signatures(1).key_id(), bridge_.key_id());
}

TEST_F(EmitterSignatureTest, SignedMessageIsDomainPrefixThenUnsignedBytes) {
  v1::InfraEvent e;
  ASSERT_TRUE(e.ParseFromString(*SignEvent(unsigned_, ops_)));
  const std::string& raw = e.signatures(0).signature();
  const std::string message = "infratrail.v1.InfraEvent/emitter-signature\n" + unsigned_;
  EXPECT_TRUE(ops_v_.Verify(message, raw).ok());
  // Without the prefix the same bytes are not a valid signature of anything
  // a note verifier would be shown.
  EXPECT_EQ(ops_v_.Verify(unsigned_, raw).status().code(), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace infratrail
