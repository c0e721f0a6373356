// MerkleReference: the RFC 9162 §2.1 definitions (MTH, PATH, SUBPROOF)
// written naively from the RFC text, independent of core/proof.cc and
// core/compact_range.cc, for tests to check the real implementations
// against. Header-only and test-only.
#ifndef INFRATRAIL_CORE_TESTING_MERKLE_REFERENCE_H_
#define INFRATRAIL_CORE_TESTING_MERKLE_REFERENCE_H_

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/hash.h"

namespace infratrail {

// MTH, PATH and SUBPROOF of RFC 9162 §2.1, written from the RFC text over a
// list of leaf hashes, memoised on [begin, end).
class MerkleReference {
 public:
  MerkleReference() = default;
  explicit MerkleReference(std::vector<Hash> leaves) : leaves_(std::move(leaves)) {}

  void AddLeaf(const Hash& h) { leaves_.push_back(h); }
  void AddEntry(absl::string_view data) { leaves_.push_back(HashLeaf(data)); }
  uint64_t size() const { return leaves_.size(); }
  const Hash& leaf(uint64_t i) const { return leaves_[i]; }

  Hash Root(uint64_t size) { return Mth(0, size); }
  // MTH of leaves [begin, end).
  Hash SubtreeRoot(uint64_t begin, uint64_t end) { return Mth(begin, end); }
  std::vector<Hash> Inclusion(uint64_t index, uint64_t size) { return Path(index, 0, size); }
  std::vector<Hash> Consistency(uint64_t size1, uint64_t size2) {
    return Subproof(size1, 0, size2, true);
  }

 private:
  static uint64_t Split(uint64_t n) {
    uint64_t k = 1;
    while (k * 2 < n) k *= 2;
    return k;
  }

  Hash Mth(uint64_t begin, uint64_t end) {
    if (end == begin) return Sha256("");
    if (end - begin == 1) return leaves_[begin];
    auto it = memo_.find({begin, end});
    if (it != memo_.end()) return it->second;
    const uint64_t k = Split(end - begin);
    const Hash h = HashChildren(Mth(begin, begin + k), Mth(begin + k, end));
    memo_.emplace(std::make_pair(begin, end), h);
    return h;
  }

  std::vector<Hash> Path(uint64_t m, uint64_t begin, uint64_t end) {
    if (end - begin == 1) return {};
    const uint64_t k = Split(end - begin);
    std::vector<Hash> p;
    if (m < k) {
      p = Path(m, begin, begin + k);
      p.push_back(Mth(begin + k, end));
    } else {
      p = Path(m - k, begin + k, end);
      p.push_back(Mth(begin, begin + k));
    }
    return p;
  }

  std::vector<Hash> Subproof(uint64_t m, uint64_t begin, uint64_t end, bool b) {
    if (m == end - begin) {
      if (b) return {};
      return {Mth(begin, end)};
    }
    const uint64_t k = Split(end - begin);
    std::vector<Hash> p;
    if (m <= k) {
      p = Subproof(m, begin, begin + k, b);
      p.push_back(Mth(begin + k, end));
    } else {
      p = Subproof(m - k, begin + k, end, false);
      p.push_back(Mth(begin, begin + k));
    }
    return p;
  }

  std::vector<Hash> leaves_;
  std::map<std::pair<uint64_t, uint64_t>, Hash> memo_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_TESTING_MERKLE_REFERENCE_H_
