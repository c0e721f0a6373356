#include "core/note_key.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/check.h"
#include "core/checkpoint.h"
#include "core/encoding.h"
#include "core/hash.h"
#include "core/openssl_util.h"

namespace infratrail {

struct EvpKey {
  EvpPkeyPtr pkey;
};

namespace {

constexpr size_t kEd25519KeySize = 32;
constexpr size_t kEd25519SigSize = 64;

bool IsUnicodeSpace(uint32_t cp) {
  switch (cp) {
    case 0x09:
    case 0x0a:
    case 0x0b:
    case 0x0c:
    case 0x0d:
    case 0x20:
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200a;
  }
}

absl::Status BadKey(absl::string_view what, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", why));
}

absl::StatusOr<EvpPkeyPtr> Ed25519Public(absl::string_view raw) {
  EVP_PKEY* k = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  if (k == nullptr) return OpenSslError(absl::StatusCode::kInvalidArgument, "Ed25519 public key");
  return EvpPkeyPtr(k);
}

absl::StatusOr<EvpPkeyPtr> P256FromSpki(absl::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  EVP_PKEY* k = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  if (k == nullptr) return OpenSslError(absl::StatusCode::kInvalidArgument, "ECDSA SPKI key");
  EvpPkeyPtr key(k);
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return absl::InvalidArgumentError("ECDSA SPKI key: trailing bytes");
  }
  if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) {
    return absl::InvalidArgumentError("ECDSA SPKI key: not an EC key");
  }
  return key;
}

// One-shot EVP_DigestVerify; md is null for Ed25519.
bool EvpVerify(EVP_PKEY* key, const EVP_MD* md, absl::string_view msg, absl::string_view sig) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  INFRATRAIL_CHECK(ctx != nullptr);
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1) return false;
  const int rc =
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
  if (rc != 1) ERR_clear_error();  // a bad signature is an answer, not an error to keep
  return rc == 1;
}

}  // namespace

bool IsValidKeyName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size();) {
    uint32_t cp;
    const size_t n = DecodeUtf8(name, i, &cp);
    if (n == 0 || cp == '+' || IsUnicodeSpace(cp)) return false;
    i += n;
  }
  return true;
}

uint32_t ComputeKeyId(absl::string_view name, uint8_t type, absl::string_view key_material) {
  const char t = static_cast<char>(type);
  Hasher h;
  const Hash d = h.Sha256({name, "\n", absl::string_view(&t, 1), key_material});
  return ReadUint32BigEndian(AsBytes(d));
}

absl::StatusOr<NoteVerifier> NoteVerifier::Parse(absl::string_view vkey) {
  const std::string what = absl::StrCat("verifier key \"", vkey, "\"");
  std::vector<absl::string_view> parts = absl::StrSplit(vkey, absl::MaxSplits('+', 2));
  if (parts.size() != 3) return BadKey(what, "want <name>+<key id>+<base64 key>");
  if (!IsValidKeyName(parts[0])) return BadKey(what, "invalid key name");
  if (parts[1].size() != 8) return BadKey(what, "key ID is not 8 hex digits");
  absl::StatusOr<std::string> id_bytes = HexDecode(parts[1], "key ID");
  if (!id_bytes.ok()) return BadKey(what, "key ID is not 8 hex digits");
  absl::StatusOr<std::string> key = Base64DecodeStrict(parts[2], "key");
  if (!key.ok()) return BadKey(what, "key is not canonical base64");
  if (key->empty()) return BadKey(what, "empty key");

  NoteVerifier v;
  v.name_ = std::string(parts[0]);
  v.key_id_ = ReadUint32BigEndian(*id_bytes);
  v.vkey_ = std::string(vkey);
  v.type_ = static_cast<SigType>((*key)[0]);
  const absl::string_view material = absl::string_view(*key).substr(1);
  uint32_t want_id;
  switch (v.type_) {
    case SigType::kEd25519:
    case SigType::kCosignatureV1: {
      if (material.size() != kEd25519KeySize) return BadKey(what, "Ed25519 key is not 32 bytes");
      want_id = ComputeKeyId(v.name_, (*key)[0], material);
      absl::StatusOr<EvpPkeyPtr> k = Ed25519Public(material);
      if (!k.ok()) return BadKey(what, k.status().message());
      v.key_ = std::make_shared<EvpKey>(EvpKey{std::move(*k)});
      break;
    }
    case SigType::kEcdsa:
    case SigType::kRfc6962TreeHead: {
      absl::StatusOr<EvpPkeyPtr> k = P256FromSpki(material);
      if (!k.ok()) return BadKey(what, k.status().message());
      v.key_ = std::make_shared<EvpKey>(EvpKey{std::move(*k)});
      Hasher h;
      const Hash spki_hash = h.Sha256(material);
      want_id = v.type_ == SigType::kEcdsa ? ReadUint32BigEndian(AsBytes(spki_hash))
                                           : ComputeKeyId(v.name_, (*key)[0], AsBytes(spki_hash));
      break;
    }
    default:
      return BadKey(what, absl::StrFormat("unknown signature type 0x%02x", (*key)[0]));
  }
  if (want_id != v.key_id_) {
    return BadKey(what, absl::StrFormat("key ID %08x does not match the key (want %08x)", v.key_id_,
                                        want_id));
  }
  v.raw_public_key_ = std::string(material);
  return v;
}

absl::StatusOr<NoteVerifier> NoteVerifier::AsCosignatureVerifier() const {
  if (type_ != SigType::kEd25519) {
    return absl::InvalidArgumentError(
        absl::StrCat("verifier key ", name_, ": only Ed25519 keys can cosign"));
  }
  NoteVerifier v = *this;
  v.type_ = SigType::kCosignatureV1;
  v.key_id_ = ComputeKeyId(name_, 0x04, raw_public_key_);
  v.vkey_ = absl::StrFormat("%s+%08x+%s", name_, v.key_id_,
                            Base64Encode(absl::StrCat("\x04", raw_public_key_)));
  return v;
}

absl::StatusOr<std::optional<uint64_t>> NoteVerifier::Verify(absl::string_view text,
                                                             absl::string_view sig) const {
  const auto invalid = [&] {
    return absl::UnauthenticatedError(
        absl::StrFormat("invalid signature for key %s+%08x", name_, key_id_));
  };
  switch (type_) {
    case SigType::kEd25519:
      if (sig.size() != kEd25519SigSize) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "signature for key %s+%08x: %d bytes, want 64", name_, key_id_, sig.size()));
      }
      if (!EvpVerify(key_->pkey.get(), nullptr, text, sig)) return invalid();
      return std::optional<uint64_t>();
    case SigType::kCosignatureV1: {
      if (sig.size() != 8 + kEd25519SigSize) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "cosignature for key %s+%08x: %d bytes, want 72", name_, key_id_, sig.size()));
      }
      const uint64_t ts = ReadUint64BigEndian(sig);
      if (!EvpVerify(key_->pkey.get(), nullptr, CosignatureMessage(ts, text), sig.substr(8))) {
        return invalid();
      }
      return std::optional<uint64_t>(ts);
    }
    case SigType::kEcdsa:
      if (!EvpVerify(key_->pkey.get(), EVP_sha256(), text, sig)) return invalid();
      return std::optional<uint64_t>();
    case SigType::kRfc6962TreeHead: {
      // timestamp(8) || DigitallySigned{hash 4 = sha256, sig 3 = ecdsa, u16 len, DER}.
      if (sig.size() < 12 || static_cast<uint8_t>(sig[8]) != 4 ||
          static_cast<uint8_t>(sig[9]) != 3 ||
          static_cast<size_t>((static_cast<uint8_t>(sig[10]) << 8) |
                              static_cast<uint8_t>(sig[11])) != sig.size() - 12) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "tree head signature for key %s+%08x: malformed DigitallySigned", name_, key_id_));
      }
      absl::StatusOr<Checkpoint> cp = Checkpoint::Parse(text);
      if (!cp.ok()) return cp.status();
      const uint64_t ts = ReadUint64BigEndian(sig);
      std::string tbs = {'\x00', '\x01'};  // version v1, signature_type tree_hash
      AppendUint64BigEndian(&tbs, ts);
      AppendUint64BigEndian(&tbs, cp->size);
      absl::StrAppend(&tbs, AsBytes(cp->root));
      if (!EvpVerify(key_->pkey.get(), EVP_sha256(), tbs, sig.substr(12))) return invalid();
      return std::optional<uint64_t>(ts);
    }
  }
  return invalid();
}

absl::StatusOr<NoteSigner> NoteSigner::FromSeed(absl::string_view name, absl::string_view seed) {
  if (!IsValidKeyName(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "signer key name \"", name, "\": must be non-empty UTF-8 without spaces or '+'"));
  }
  if (seed.size() != kEd25519KeySize) {
    return absl::InvalidArgumentError("signer key: Ed25519 seed is not 32 bytes");
  }
  EVP_PKEY* k = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  if (k == nullptr) return OpenSslError(absl::StatusCode::kInvalidArgument, "Ed25519 seed");
  NoteSigner s;
  s.key_ = std::make_shared<EvpKey>(EvpKey{EvpPkeyPtr(k)});
  unsigned char pub[kEd25519KeySize];
  size_t pub_len = sizeof(pub);
  INFRATRAIL_CHECK(EVP_PKEY_get_raw_public_key(k, pub, &pub_len) == 1);
  s.name_ = std::string(name);
  s.seed_ = std::string(seed);
  s.public_key_ = std::string(reinterpret_cast<const char*>(pub), pub_len);
  s.key_id_ = ComputeKeyId(s.name_, 0x01, s.public_key_);
  return s;
}

absl::StatusOr<NoteSigner> NoteSigner::Generate(absl::string_view name) {
  unsigned char seed[kEd25519KeySize];
  if (RAND_priv_bytes(seed, sizeof(seed)) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "generating Ed25519 seed");
  }
  absl::StatusOr<NoteSigner> s =
      FromSeed(name, absl::string_view(reinterpret_cast<const char*>(seed), sizeof(seed)));
  OPENSSL_cleanse(seed, sizeof(seed));
  return s;
}

absl::StatusOr<NoteSigner> NoteSigner::Parse(absl::string_view skey) {
  // Never echo the key itself into an error: it is a secret.
  const auto bad = [](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("signer key: ", why));
  };
  absl::string_view rest = skey;
  if (!absl::ConsumePrefix(&rest, "PRIVATE+KEY+")) return bad("does not start with PRIVATE+KEY+");
  std::vector<absl::string_view> parts = absl::StrSplit(rest, absl::MaxSplits('+', 2));
  if (parts.size() != 3) return bad("want PRIVATE+KEY+<name>+<key id>+<base64 key>");
  if (!IsValidKeyName(parts[0])) return bad("invalid key name");
  absl::StatusOr<std::string> id = HexDecode(parts[1], "key ID");
  if (parts[1].size() != 8 || !id.ok()) return bad("key ID is not 8 hex digits");
  absl::StatusOr<std::string> key = Base64DecodeStrict(parts[2], "key");
  if (!key.ok()) return bad("key is not canonical base64");
  if (key->size() != 1 + kEd25519KeySize || (*key)[0] != 0x01) {
    return bad("not an Ed25519 (type 0x01) private key of 32 bytes");
  }
  absl::StatusOr<NoteSigner> s = FromSeed(parts[0], absl::string_view(*key).substr(1));
  if (!s.ok()) return s.status();
  if (s->key_id_ != ReadUint32BigEndian(*id)) return bad("key ID does not match the key");
  return s;
}

std::string NoteSigner::SignerKey() const {
  return absl::StrFormat("PRIVATE+KEY+%s+%08x+%s", name_, key_id_,
                         Base64Encode(absl::StrCat("\x01", seed_)));
}

std::string NoteSigner::VerifierKey() const {
  return absl::StrFormat("%s+%08x+%s", name_, key_id_,
                         Base64Encode(absl::StrCat("\x01", public_key_)));
}

uint32_t NoteSigner::CosignatureKeyId() const { return ComputeKeyId(name_, 0x04, public_key_); }

std::string NoteSigner::CosignatureVerifierKey() const {
  return absl::StrFormat("%s+%08x+%s", name_, CosignatureKeyId(),
                         Base64Encode(absl::StrCat("\x04", public_key_)));
}

std::string NoteSigner::Sign(absl::string_view message) const {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  INFRATRAIL_CHECK(ctx != nullptr);
  INFRATRAIL_CHECK(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) == 1);
  std::string sig(kEd25519SigSize, '\0');
  size_t len = sig.size();
  INFRATRAIL_CHECK(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                                  reinterpret_cast<const unsigned char*>(message.data()),
                                  message.size()) == 1);
  INFRATRAIL_CHECK((len) == (kEd25519SigSize));
  return sig;
}

}  // namespace infratrail
