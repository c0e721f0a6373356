#include "core/checkpoint.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/encoding.h"

namespace infratrail {

std::string Checkpoint::Body() const {
  std::string out = absl::StrCat(origin, "\n", size, "\n", HashToBase64(root), "\n");
  for (const std::string& e : extensions) absl::StrAppend(&out, e, "\n");
  return out;
}

absl::StatusOr<Checkpoint> Checkpoint::Parse(absl::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError("checkpoint: text does not end in a newline");
  }
  text.remove_suffix(1);
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (lines.size() < 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint: ", lines.size(), " lines, want at least 3"));
  }
  Checkpoint cp;
  if (lines[0].empty()) return absl::InvalidArgumentError("checkpoint: empty origin line");
  cp.origin = std::string(lines[0]);
  absl::StatusOr<uint64_t> size = ParseDecimalStrict(lines[1], "checkpoint tree size");
  if (!size.ok()) return size.status();
  cp.size = *size;
  absl::StatusOr<Hash> root = HashFromBase64(lines[2], "checkpoint root hash");
  if (!root.ok()) return root.status();
  cp.root = *root;
  for (size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("checkpoint: empty extension line ", i + 1));
    }
    cp.extensions.emplace_back(lines[i]);
  }
  return cp;
}

std::string CosignatureMessage(uint64_t timestamp, absl::string_view checkpoint_body) {
  return absl::StrCat("cosignature/v1\ntime ", timestamp, "\n", checkpoint_body);
}

}  // namespace infratrail
