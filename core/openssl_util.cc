#include "core/openssl_util.h"

#include <openssl/err.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace infratrail {

absl::Status OpenSslError(absl::StatusCode code, absl::string_view operation) {
  std::string detail;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    absl::StrAppend(&detail, detail.empty() ? "" : "; ", buf);
  }
  return absl::Status(code, absl::StrCat(operation, detail.empty() ? "" : ": ", detail));
}

}  // namespace infratrail
