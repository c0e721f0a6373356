// RFC 9162 §2.1 Merkle tree hashing (SHA-256), built on OpenSSL.
//
//   leaf  = SHA-256(0x00 || entry)
//   node  = SHA-256(0x01 || left || right)
//   empty = SHA-256("")
//
// Hasher owns one reusable OpenSSL digest context, so hashing many leaves does
// no allocation per hash. A Hasher is not thread-safe: give each thread its
// own (they are cheap to create). The free functions use a thread-local one.
#ifndef INFRATRAIL_CORE_HASH_H_
#define INFRATRAIL_CORE_HASH_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace infratrail {

inline constexpr size_t kHashSize = 32;
using Hash = std::array<uint8_t, kHashSize>;

// Views a hash as bytes, for writing it to storage or a signed message.
inline absl::string_view AsBytes(const Hash& h) {
  return absl::string_view(reinterpret_cast<const char*>(h.data()), h.size());
}
// Copies exactly 32 bytes into a Hash; InvalidArgument naming `field` otherwise.
absl::StatusOr<Hash> HashFromBytes(absl::string_view bytes, absl::string_view field);
// Strict standard base64 (RFC 4648 §4, padded, canonical) of exactly 32 bytes.
absl::StatusOr<Hash> HashFromBase64(absl::string_view b64, absl::string_view field);
std::string HashToBase64(const Hash& h);
std::string HashToHex(const Hash& h);

class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  Hash HashLeaf(absl::string_view entry);
  Hash HashChildren(const Hash& left, const Hash& right);
  // SHA-256 of arbitrary bytes (no domain prefix).
  Hash Sha256(absl::string_view data);
  // Same for a message given in pieces, hashed as their concatenation.
  Hash Sha256(std::initializer_list<absl::string_view> parts);

  static const Hash& EmptyRoot();

 private:
  struct Impl;
  Impl* impl_;
};

// Convenience wrappers over a thread-local Hasher.
Hash HashLeaf(absl::string_view entry);
Hash HashChildren(const Hash& left, const Hash& right);
Hash Sha256(absl::string_view data);

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_HASH_H_
