// The one place OpenSSL errors become absl::Status (STYLE.md habit 3).
#ifndef INFRATRAIL_CORE_OPENSSL_UTIL_H_
#define INFRATRAIL_CORE_OPENSSL_UTIL_H_

#include <openssl/evp.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace infratrail {

// Drains OpenSSL's error queue into an error of `code` whose message starts
// with `operation`.
absl::Status OpenSslError(absl::StatusCode code, absl::string_view operation);

struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct EvpMdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, EvpMdCtxDeleter>;

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_OPENSSL_UTIL_H_
