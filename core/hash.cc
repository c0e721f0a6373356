#include "core/hash.h"

#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/check.h"
#include "core/encoding.h"

namespace infratrail {
namespace {

// Fetched once: an explicit fetch avoids OpenSSL 3's implicit provider lookup
// on every EVP_DigestInit_ex, which dominates the cost of hashing 65 bytes.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    INFRATRAIL_CHECK(m != nullptr) << "OpenSSL has no SHA-256";
    return m;
  }();
  return md;
}

}  // namespace

struct Hasher::Impl {
  EVP_MD_CTX* ctx;
};

Hasher::Hasher() : impl_(new Impl{EVP_MD_CTX_new()}) { INFRATRAIL_CHECK(impl_->ctx != nullptr); }

Hasher::~Hasher() {
  EVP_MD_CTX_free(impl_->ctx);
  delete impl_;
}

// OpenSSL digest calls fail only on programmer error or allocation failure,
// neither of which a caller could handle; hence CHECK.
#define INFRATRAIL_SHA_OK(expr) INFRATRAIL_CHECK((expr) == 1) << #expr

Hash Hasher::HashLeaf(absl::string_view entry) {
  static constexpr unsigned char kPrefix = 0x00;
  Hash out;
  INFRATRAIL_SHA_OK(EVP_DigestInit_ex2(impl_->ctx, Sha256Md(), nullptr));
  INFRATRAIL_SHA_OK(EVP_DigestUpdate(impl_->ctx, &kPrefix, 1));
  INFRATRAIL_SHA_OK(EVP_DigestUpdate(impl_->ctx, entry.data(), entry.size()));
  INFRATRAIL_SHA_OK(EVP_DigestFinal_ex(impl_->ctx, out.data(), nullptr));
  return out;
}

Hash Hasher::HashChildren(const Hash& left, const Hash& right) {
  unsigned char buf[1 + 2 * kHashSize];
  buf[0] = 0x01;
  std::copy(left.begin(), left.end(), buf + 1);
  std::copy(right.begin(), right.end(), buf + 1 + kHashSize);
  Hash out;
  INFRATRAIL_SHA_OK(EVP_DigestInit_ex2(impl_->ctx, Sha256Md(), nullptr));
  INFRATRAIL_SHA_OK(EVP_DigestUpdate(impl_->ctx, buf, sizeof(buf)));
  INFRATRAIL_SHA_OK(EVP_DigestFinal_ex(impl_->ctx, out.data(), nullptr));
  return out;
}

Hash Hasher::Sha256(absl::string_view data) { return Sha256({data}); }

Hash Hasher::Sha256(std::initializer_list<absl::string_view> parts) {
  Hash out;
  INFRATRAIL_SHA_OK(EVP_DigestInit_ex2(impl_->ctx, Sha256Md(), nullptr));
  for (absl::string_view p : parts) {
    INFRATRAIL_SHA_OK(EVP_DigestUpdate(impl_->ctx, p.data(), p.size()));
  }
  INFRATRAIL_SHA_OK(EVP_DigestFinal_ex(impl_->ctx, out.data(), nullptr));
  return out;
}

#undef INFRATRAIL_SHA_OK

const Hash& Hasher::EmptyRoot() {
  static const Hash empty = [] {
    Hasher h;
    return h.Sha256(absl::string_view());
  }();
  return empty;
}

namespace {
Hasher& ThreadHasher() {
  thread_local Hasher hasher;
  return hasher;
}
}  // namespace

Hash HashLeaf(absl::string_view entry) { return ThreadHasher().HashLeaf(entry); }
Hash HashChildren(const Hash& left, const Hash& right) {
  return ThreadHasher().HashChildren(left, right);
}
Hash Sha256(absl::string_view data) { return ThreadHasher().Sha256(data); }

absl::StatusOr<Hash> HashFromBytes(absl::string_view bytes, absl::string_view field) {
  if (bytes.size() != kHashSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": hash is ", bytes.size(), " bytes, want ", kHashSize));
  }
  Hash h;
  std::copy(bytes.begin(), bytes.end(), h.begin());
  return h;
}

absl::StatusOr<Hash> HashFromBase64(absl::string_view b64, absl::string_view field) {
  absl::StatusOr<std::string> raw = Base64DecodeStrict(b64, field);
  if (!raw.ok()) return raw.status();
  return HashFromBytes(*raw, field);
}

std::string HashToBase64(const Hash& h) { return Base64Encode(AsBytes(h)); }
std::string HashToHex(const Hash& h) { return HexEncode(AsBytes(h)); }

}  // namespace infratrail
