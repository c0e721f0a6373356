#include <algorithm>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "verifier/policy/policy.h"

namespace infratrail {

std::string PolicyState::Encode() const {
  std::vector<std::array<uint8_t, 16>> keys(live.begin(), live.end());
  std::sort(keys.begin(), keys.end());
  std::string raw;
  raw.reserve(keys.size() * 16);
  for (const auto& k : keys) raw.append(reinterpret_cast<const char*>(k.data()), k.size());
  return absl::Base64Escape(raw);
}

absl::StatusOr<PolicyState> PolicyState::Decode(absl::string_view text) {
  std::string raw;
  if (!absl::Base64Unescape(text, &raw))
    return absl::DataLossError("PolicyState::Decode: not base64");
  if (raw.size() % 16 != 0) {
    return absl::DataLossError(
        absl::StrCat("PolicyState::Decode: ", raw.size(), " bytes is not a multiple of 16"));
  }
  PolicyState state;
  state.live.reserve(raw.size() / 16);
  for (size_t i = 0; i < raw.size(); i += 16) {
    std::array<uint8_t, 16> k;
    std::copy_n(reinterpret_cast<const uint8_t*>(raw.data()) + i, 16, k.begin());
    state.live.insert(k);
  }
  // Only Encode's own output (canonical base64, sorted, no repeats): anything
  // else means the stored state is not what was written.
  if (state.Encode() != text)
    return absl::DataLossError("PolicyState::Decode: not the canonical encoding of a state");
  return state;
}

}  // namespace infratrail
