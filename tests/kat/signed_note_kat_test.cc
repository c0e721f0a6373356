// C2SP signed-note / golang.org/x/mod/sumdb/note known answers.
#include "core/note.h"
#include "tests/kat/kat_util.h"

namespace infratrail::kat {
namespace {

const nlohmann::json& V() {
  static const nlohmann::json* v = new nlohmann::json(Load("signed_note_vectors.json"));
  return *v;
}

std::vector<NoteVerifier> Verifiers(const nlohmann::json& vkeys) {
  std::vector<NoteVerifier> out;
  for (const auto& k : vkeys) {
    absl::StatusOr<NoteVerifier> v = NoteVerifier::Parse(k.get<std::string>());
    EXPECT_TRUE(v.ok()) << k << ": " << v.status();
    if (v.ok()) out.push_back(*v);
  }
  return out;
}

std::string KeyIdHex(uint32_t id) {
  std::string raw;
  AppendUint32BigEndian(&raw, id);
  return HexEncode(raw);
}

void ExpectSigs(const std::vector<NoteSignature>& got, const nlohmann::json& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i]["name"].get<std::string>());
    EXPECT_EQ(KeyIdHex(got[i].key_id), want[i]["key_id"].get<std::string>());
    EXPECT_EQ(got[i].base64, want[i]["signature_b64"].get<std::string>());
  }
}

TEST(SignedNoteKat, Keys) {
  for (const auto& k : V()["keys"]) {
    SCOPED_TRACE(k["id"].get<std::string>());
    absl::StatusOr<NoteVerifier> v = NoteVerifier::Parse(k["vkey"].get<std::string>());
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->name(), k["name"].get<std::string>());
    EXPECT_EQ(KeyIdHex(v->key_id()), k["key_id"].get<std::string>());
    EXPECT_EQ(static_cast<int>(v->type()), k["sig_type"].get<int>());
    EXPECT_EQ(ComputeKeyId(k["name"].get<std::string>(), 0x01, Unhex(k["public_key_hex"])),
              v->key_id());
    if (!k["skey"].is_null()) {
      absl::StatusOr<NoteSigner> s = NoteSigner::Parse(k["skey"].get<std::string>());
      ASSERT_TRUE(s.ok()) << s.status();
      EXPECT_EQ(s->VerifierKey(), k["vkey"].get<std::string>());
      EXPECT_EQ(s->SignerKey(), k["skey"].get<std::string>());
    }
    if (k.contains("private_seed_hex")) {
      absl::StatusOr<NoteSigner> s =
          NoteSigner::FromSeed(k["name"].get<std::string>(), Unhex(k["private_seed_hex"]));
      ASSERT_TRUE(s.ok());
      EXPECT_EQ(s->VerifierKey(), k["vkey"].get<std::string>());
    }
  }
}

TEST(SignedNoteKat, KeyIds) {
  for (const auto& k : V()["key_id_vectors"]) {
    SCOPED_TRACE(k["name"].get<std::string>());
    const int type = k["sig_type"];
    if (type == 0x01 || type == 0x04) {
      EXPECT_EQ(KeyIdHex(ComputeKeyId(k["name"].get<std::string>(), static_cast<uint8_t>(type),
                                      Unhex(k["public_key_hex"]))),
                k["key_id"].get<std::string>());
    }
    if (k.contains("vkey")) {
      absl::StatusOr<NoteVerifier> v = NoteVerifier::Parse(k["vkey"].get<std::string>());
      ASSERT_TRUE(v.ok()) << v.status();
      EXPECT_EQ(KeyIdHex(v->key_id()), k["key_id"].get<std::string>());
      EXPECT_EQ(static_cast<int>(v->type()), type);
    }
  }
}

TEST(SignedNoteKat, VerifierKeyParsing) {
  for (const auto& k : V()["vkey_parse_valid"]) {
    absl::StatusOr<NoteVerifier> v = NoteVerifier::Parse(k["vkey"].get<std::string>());
    ASSERT_TRUE(v.ok()) << k["vkey"] << v.status();
    EXPECT_EQ(v->name(), k["name"].get<std::string>());
    EXPECT_EQ(KeyIdHex(v->key_id()), k["key_id"].get<std::string>());
  }
  for (const auto& k : V()["vkey_parse_invalid"]) {
    EXPECT_FALSE(NoteVerifier::Parse(k["vkey"].get<std::string>()).ok())
        << k["reason"].get<std::string>();
  }
  for (const auto& k : V()["skey_parse_invalid"]) {
    EXPECT_FALSE(NoteSigner::Parse(k["skey"].get<std::string>()).ok())
        << k["reason"].get<std::string>();
  }
}

TEST(SignedNoteKat, SignReproducesNotesByteForByte) {
  for (const auto& t : V()["sign_vectors"]) {
    SCOPED_TRACE(t["id"].get<std::string>());
    std::vector<NoteSigner> signers;
    for (const auto& k : t["signer_keys"])
      signers.push_back(*NoteSigner::Parse(k.get<std::string>()));
    if (t.contains("existing_note") && !t["existing_note"].is_null()) {
      const std::string existing = t["existing_note"];
      absl::StatusOr<Note> opened = OpenNote(existing, Verifiers(t["existing_note_verifier_keys"]));
      ASSERT_TRUE(opened.ok()) << opened.status();
      absl::StatusOr<Note> fresh = ParseNote(*SignNote(opened->text, signers));
      ASSERT_TRUE(fresh.ok());
      absl::StatusOr<std::string> added = AddSignatures(existing, fresh->unverified);
      ASSERT_TRUE(added.ok());
      EXPECT_EQ(*added, t["expected_note"].get<std::string>());
    } else {
      absl::StatusOr<std::string> note = SignNote(t["text"].get<std::string>(), signers);
      ASSERT_TRUE(note.ok()) << note.status();
      EXPECT_EQ(*note, t["expected_note"].get<std::string>());
    }
  }
  for (const auto& t : V()["sign_invalid"]) {
    std::vector<NoteSigner> signers;
    for (const auto& k : t["signer_keys"])
      signers.push_back(*NoteSigner::Parse(k.get<std::string>()));
    EXPECT_FALSE(SignNote(t["text"].get<std::string>(), signers).ok()) << t["id"];
  }
}

TEST(SignedNoteKat, OpenValid) {
  for (const auto& t : V()["open_valid"]) {
    SCOPED_TRACE(t["id"].get<std::string>());
    absl::StatusOr<Note> n = OpenNote(t["note"].get<std::string>(), Verifiers(t["verifier_keys"]));
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(n->text, t["expected_text"].get<std::string>());
    ExpectSigs(n->verified, t["expected_verified"]);
    ExpectSigs(n->unverified, t["expected_unverified"]);
  }
}

TEST(SignedNoteKat, OpenInvalid) {
  for (const auto& t : V()["open_invalid"]) {
    SCOPED_TRACE(t["id"].get<std::string>());
    std::string note;
    if (t.contains("note_hex")) {
      note = Unhex(t["note_hex"]);
    } else if (t.contains("note_generator")) {
      const auto& g = t["note_generator"];
      note = g["prefix"];
      for (int i = 0; i < g["count"].get<int>(); ++i) note += g["repeat_line"].get<std::string>();
    } else {
      note = t["note"];
    }
    EXPECT_FALSE(OpenNote(note, Verifiers(t["verifier_keys"])).ok()) << t["reason"];
  }
}

}  // namespace
}  // namespace infratrail::kat
