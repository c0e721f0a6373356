// Strict text encodings used by the wire formats.
#ifndef INFRATRAIL_CORE_ENCODING_H_
#define INFRATRAIL_CORE_ENCODING_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace infratrail {

// Decodes standard padded base64 (RFC 4648 §4). Rejects anything whose
// canonical re-encoding differs (missing padding, non-zero pad bits,
// whitespace, URL alphabet), so one value has exactly one text form.
// `field` names the input in the error message.
absl::StatusOr<std::string> Base64DecodeStrict(absl::string_view b64, absl::string_view field);
std::string Base64Encode(absl::string_view bytes);

// Parses an unsigned decimal with no sign, no leading zeros (except "0"
// itself) and no overflow.
absl::StatusOr<uint64_t> ParseDecimalStrict(absl::string_view s, absl::string_view field);

// Decodes the UTF-8 code point at s[i] (requires i < s.size()) into *cp and
// returns its length in bytes, or 0 if it is not valid UTF-8 (truncated,
// overlong, surrogate, beyond U+10FFFF).
size_t DecodeUtf8(absl::string_view s, size_t i, uint32_t* cp);

std::string HexEncode(absl::string_view bytes);
// Lowercase or uppercase hex of even length.
absl::StatusOr<std::string> HexDecode(absl::string_view hex, absl::string_view field);

void AppendUint64BigEndian(std::string* out, uint64_t v);
uint64_t ReadUint64BigEndian(absl::string_view b);  // requires b.size() >= 8
void AppendUint32BigEndian(std::string* out, uint32_t v);
uint32_t ReadUint32BigEndian(absl::string_view b);  // requires b.size() >= 4

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_ENCODING_H_
