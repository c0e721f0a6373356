#include "core/encoding.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace infratrail {

absl::StatusOr<std::string> Base64DecodeStrict(absl::string_view b64, absl::string_view field) {
  std::string out;
  if (b64.size() % 4 != 0 || !absl::Base64Unescape(b64, &out) || absl::Base64Escape(out) != b64) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not canonical standard base64"));
  }
  return out;
}

std::string Base64Encode(absl::string_view bytes) { return absl::Base64Escape(bytes); }

absl::StatusOr<uint64_t> ParseDecimalStrict(absl::string_view s, absl::string_view field) {
  if (s.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": empty number"));
  if (s.size() > 1 && s[0] == '0') {
    return absl::InvalidArgumentError(absl::StrCat(field, ": leading zero in \"", s, "\""));
  }
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return absl::InvalidArgumentError(absl::StrCat(field, ": not a decimal number"));
    }
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": number overflows 64 bits"));
    }
    v = v * 10 + d;
  }
  return v;
}

size_t DecodeUtf8(absl::string_view s, size_t i, uint32_t* cp) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t c = b(i);
  size_t len;
  uint32_t v;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xe0) == 0xc0) {
    len = 2;
    v = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3;
    v = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    v = (v << 6) | (b(i + k) & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
  *cp = v;
  return len;
}

std::string HexEncode(absl::string_view bytes) { return absl::BytesToHexString(bytes); }

absl::StatusOr<std::string> HexDecode(absl::string_view hex, absl::string_view field) {
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": odd-length hex"));
  }
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": not hex"));
    }
  }
  return absl::HexStringToBytes(hex);
}

void AppendUint64BigEndian(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

uint64_t ReadUint64BigEndian(absl::string_view b) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(b[i]);
  return v;
}

void AppendUint32BigEndian(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

uint32_t ReadUint32BigEndian(absl::string_view b) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(b[i]);
  return v;
}

}  // namespace infratrail
