// Real production checkpoints (Ed25519, ECDSA, RFC 6962 tree heads, witness
// cosignatures) and C2SP tlog-cosignature known answers.
#include "core/checkpoint.h"
#include "core/cosignature.h"
#include "core/witness_policy.h"
#include "tests/kat/kat_util.h"

namespace infratrail::kat {
namespace {

std::string KeyIdHex(uint32_t id) {
  std::string raw;
  AppendUint32BigEndian(&raw, id);
  return HexEncode(raw);
}

// Verifier for a key entry; a type-0x01 key "used_as" a cosigner is
// converted to its type-0x04 form.
NoteVerifier KeyFor(const nlohmann::json& k) {
  absl::StatusOr<NoteVerifier> v = NoteVerifier::Parse(k["vkey"].get<std::string>());
  EXPECT_TRUE(v.ok()) << k["vkey"] << v.status();
  if (k.contains("used_as") && v->type() == SigType::kEd25519) return *v->AsCosignatureVerifier();
  return *v;
}

TEST(RealCheckpointKat, EveryCheckpointVerifiesWithItsRealKeys) {
  const nlohmann::json v = Load("real_checkpoints.json");
  ASSERT_GE(v["checkpoints"].size(), 20u);
  for (const auto& c : v["checkpoints"]) {
    SCOPED_TRACE(c["id"].get<std::string>());
    std::vector<NoteVerifier> keys;
    for (const auto& k : c["verifier_keys"]) keys.push_back(KeyFor(k));
    absl::StatusOr<Note> n = OpenNote(c["note"].get<std::string>(), keys);
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_EQ(n->verified.size(), c["verified_signatures"].size());
    for (size_t i = 0; i < n->verified.size(); ++i) {
      const auto& want = c["verified_signatures"][i];
      EXPECT_EQ(n->verified[i].name, want["name"].get<std::string>());
      EXPECT_EQ(KeyIdHex(n->verified[i].key_id), want["key_id"].get<std::string>());
      EXPECT_EQ(n->verified[i].base64, want["signature_b64"].get<std::string>());
      if (want.contains("timestamp")) {
        EXPECT_EQ(n->verified[i].timestamp, want["timestamp"].get<uint64_t>());
      }
    }
    EXPECT_EQ(n->unverified.size(), c["unverified_signatures"].size());
    absl::StatusOr<Checkpoint> cp = Checkpoint::Parse(n->text);
    ASSERT_TRUE(cp.ok()) << cp.status();
    EXPECT_EQ(cp->origin, c["origin"].get<std::string>());
    EXPECT_EQ(cp->size, c["tree_size"].get<uint64_t>());
    EXPECT_EQ(HashToHex(cp->root), c["root_hash_hex"].get<std::string>());
    EXPECT_EQ(HashToBase64(cp->root), c["root_hash_b64"].get<std::string>());

    // Ed25519 logs with witnesses: the k-of-n policy over the real cosigners.
    if (keys[0].type() != SigType::kEd25519 || keys[0].name() != cp->origin) continue;
    std::vector<NoteVerifier> witnesses(keys.begin() + 1, keys.end());
    const size_t k = witnesses.size();
    absl::StatusOr<WitnessPolicy> policy = WitnessPolicy::Create(witnesses, k);
    ASSERT_TRUE(policy.ok()) << policy.status();
    absl::StatusOr<VerifiedCheckpoint> vc =
        OpenCheckpoint(c["note"].get<std::string>(), keys[0], *policy);
    ASSERT_TRUE(vc.ok()) << vc.status();
    EXPECT_EQ(vc->witness_count, k);
  }
}

TEST(RealCheckpointKat, OtherSignedNotesAndRejectedCandidates) {
  const nlohmann::json v = Load("real_checkpoints.json");
  for (const auto& n : v["other_real_signed_notes"]) {
    absl::StatusOr<NoteVerifier> key = NoteVerifier::Parse(n["verifier_key"].get<std::string>());
    ASSERT_TRUE(key.ok()) << key.status();
    absl::StatusOr<Note> opened = OpenNote(n["note"].get<std::string>(), {*key});
    ASSERT_TRUE(opened.ok()) << n["id"] << opened.status();
    EXPECT_EQ(opened->verified.size(), n["verified_signatures"].size());
  }
  ASSERT_FALSE(v["rejected_candidates"].empty());
  for (const auto& r : v["rejected_candidates"]) {
    std::vector<NoteVerifier> keys;
    bool keys_ok = true;
    for (const auto& k : r["verifier_keys"]) {
      absl::StatusOr<NoteVerifier> kv = NoteVerifier::Parse(k.get<std::string>());
      if (kv.ok()) {
        keys.push_back(*kv);
      } else {
        keys_ok = false;  // e.g. the mistyped key: rejected already
      }
    }
    EXPECT_FALSE(keys_ok && OpenNote(r["note"].get<std::string>(), keys).ok()) << r["id"];
  }
}

TEST(CosignatureKat, CosignaturesVerifyAndReproduce) {
  const nlohmann::json v = Load("cosignature_vectors.json");
  for (const auto& c : v["cosignatures"]) {
    SCOPED_TRACE(c["id"].get<std::string>());
    absl::StatusOr<NoteVerifier> key = NoteVerifier::Parse(c["cosigner_vkey"].get<std::string>());
    ASSERT_TRUE(key.ok()) << key.status();
    if (key->type() == SigType::kEd25519) key = key->AsCosignatureVerifier();
    EXPECT_EQ(KeyIdHex(key->key_id()), c["cosignature_key_id"].get<std::string>());
    EXPECT_EQ(CosignatureMessage(c["timestamp"], c["checkpoint_body"].get<std::string>()),
              c["signed_message"].get<std::string>());
    absl::StatusOr<Note> n = OpenNote(c["note"].get<std::string>(), {*key});
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_EQ(n->verified.size(), 1u);
    EXPECT_EQ(n->verified[0].base64, c["signature_b64"].get<std::string>());
    EXPECT_EQ(n->verified[0].timestamp, c["timestamp"].get<uint64_t>());
    EXPECT_EQ(n->text, c["checkpoint_body"].get<std::string>());
    if (c.contains("private_seed_hex")) {
      NoteSigner w = *NoteSigner::FromSeed(c["cosigner_name"].get<std::string>(),
                                           Unhex(c["private_seed_hex"]));
      absl::StatusOr<NoteSignature> sig =
          Cosign(w, c["checkpoint_body"].get<std::string>(), c["timestamp"]);
      ASSERT_TRUE(sig.ok());
      EXPECT_EQ(sig->base64, c["signature_b64"].get<std::string>());
      EXPECT_EQ(sig->Line(), c["signature_line"].get<std::string>() + "\n");
      EXPECT_EQ(w.CosignatureVerifierKey(), key->vkey());
    }
  }
}

TEST(CosignatureKat, SpecExamplesTimestampsAndNegatives) {
  const nlohmann::json v = Load("cosignature_vectors.json");
  for (const auto& e : v["spec_examples"]) {
    if (e.contains("signed_message")) {
      EXPECT_EQ(CosignatureMessage(e["timestamp"], e["checkpoint_body"].get<std::string>()),
                e["signed_message"].get<std::string>());
    }
    if (e.contains("signature_line")) {
      // The spec's example line parses as a note signature line.
      const std::string note = "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n" +
                               e["signature_line"].get<std::string>() + "\n";
      absl::StatusOr<Note> n = ParseNote(note);
      ASSERT_TRUE(n.ok()) << n.status();
      EXPECT_EQ(KeyIdHex(n->unverified[0].key_id), e["key_id"].get<std::string>());
      const std::string raw = *Base64DecodeStrict(n->unverified[0].base64, "sig");
      EXPECT_EQ(raw.size(), 4 + 8 + e["signature_length"].get<size_t>());  // id, time, Ed25519
      EXPECT_EQ(ReadUint64BigEndian(raw.substr(4)), e["timestamp"].get<uint64_t>());
    }
  }
  for (const auto& t : v["timestamp_parse_vectors"]) {
    absl::StatusOr<std::string> raw =
        Base64DecodeStrict(t["signature_b64"].get<std::string>(), "sig");
    const bool ok = raw.ok() && raw->size() == 4 + 8 + 64;
    EXPECT_EQ(ok, !t["expect_error"].get<bool>()) << t["id"];
    if (ok) {
      EXPECT_EQ(ReadUint64BigEndian(raw->substr(4)), t["expected_timestamp"].get<uint64_t>());
    }
  }
  for (const auto& t : v["negative_vectors"]) {
    std::vector<NoteVerifier> keys;
    for (const auto& k : t["verifier_keys"])
      keys.push_back(*NoteVerifier::Parse(k.get<std::string>()));
    EXPECT_FALSE(OpenNote(t["note"].get<std::string>(), keys).ok()) << t["id"];
  }
}

}  // namespace
}  // namespace infratrail::kat
