#include "verifier/policy/git_util.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace infratrail::gitutil {

OidKey ToKey(const git_oid& oid) {
  OidKey key;
  std::memcpy(key.data(), oid.id, key.size());
  return key;
}

std::string Hex(const git_oid& oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof(buf), &oid);
  return buf;
}

absl::Status GitError(int rc, absl::string_view op) {
  const git_error* e = git_error_last();
  const std::string msg =
      absl::StrCat(op, ": ", e != nullptr && e->message != nullptr ? e->message : "libgit2 error",
                   " (libgit2 ", rc, ")");
  if (e != nullptr && (e->klass == GIT_ERROR_OS || e->klass == GIT_ERROR_NOMEMORY)) {
    return absl::UnavailableError(msg);
  }
  return absl::DataLossError(msg);
}

}  // namespace infratrail::gitutil
