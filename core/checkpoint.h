// C2SP tlog-checkpoint: the note text that commits to a tree head.
//   <origin>\n<decimal tree size>\n<base64 root hash>\n[<extension line>\n]*
#ifndef INFRATRAIL_CORE_CHECKPOINT_H_
#define INFRATRAIL_CORE_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/hash.h"

namespace infratrail {

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
  std::vector<std::string> extensions;  // opaque, non-empty lines

  // The note text (body) of this checkpoint.
  std::string Body() const;

  // Parses a note text strictly: non-empty origin, size without leading
  // zeros, canonical base64 of exactly 32 bytes, non-empty extension lines,
  // final newline. InvalidArgument naming the bad line.
  static absl::StatusOr<Checkpoint> Parse(absl::string_view text);

  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// The message a tlog-cosignature/v1 witness signs:
// "cosignature/v1\ntime <timestamp>\n" || checkpoint body.
std::string CosignatureMessage(uint64_t timestamp, absl::string_view checkpoint_body);

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_CHECKPOINT_H_
