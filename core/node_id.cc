#include "core/node_id.h"

#include "absl/strings/str_cat.h"
#include "core/check.h"

namespace infratrail {

std::string NodeId::DebugString() const { return absl::StrCat("(", level, ",", index, ")"); }

std::vector<NodeId> DecomposeRange(uint64_t begin, uint64_t end) {
  INFRATRAIL_CHECK(begin <= end);
  std::vector<NodeId> out;
  while (begin < end) {
    // Largest aligned subtree starting at `begin` that fits before `end`.
    uint32_t level = begin == 0 ? 63 : static_cast<uint32_t>(std::countr_zero(begin));
    while (level > 0 && (end - begin) < (uint64_t{1} << level)) --level;
    out.push_back(NodeId{level, begin >> level});
    begin += uint64_t{1} << level;
  }
  return out;
}

}  // namespace infratrail
